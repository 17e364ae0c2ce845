#include "cli/commands.h"
namespace qs::cli { __attribute__((weak)) void register_synth(CLI::App&) {} }
