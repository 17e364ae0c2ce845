// Global functions visible to every template: range, namespace, dict, and HF's raise_exception / strftime_now.
#pragma once
#include "chat/jinja_interp.h"

namespace qs::jinja {

void add_globals(Frame& f);

}  // namespace qs::jinja
