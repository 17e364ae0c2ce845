// Whole-file reads for the small text files the CLI and server take (templates, prompts, key files).
#pragma once
#include <string>

namespace qs {

// The file's bytes; std::runtime_error naming the path when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace qs
