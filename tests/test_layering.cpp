// The source tree's layers: a directory under src/ includes only the layers below it (so a lower layer
// never depends on a higher one), and no source file grows past what a reader takes in at once.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

namespace {

namespace fs = std::filesystem;

// Each layer and the layers it may include (besides itself). Mirrors docs/ARCHITECTURE.md.
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> m = {
      {"util", {}},
      {"tensor", {"util"}},
      {"gguf", {"util", "tensor"}},
      {"kernels", {"util", "tensor"}},
      {"tokenizer", {"util", "gguf"}},
      {"chat", {"util", "tokenizer"}},
      {"model", {"util", "tensor", "gguf", "kernels"}},
      {"engine", {"util", "tensor", "gguf", "kernels", "tokenizer", "chat", "model"}},
      {"synth", {"util", "tensor", "gguf", "kernels", "tokenizer", "model"}},
      {"hub", {"util", "gguf"}},
      {"convert", {"util", "tensor", "gguf", "tokenizer"}},
      {"server", {"util", "tensor", "gguf", "kernels", "tokenizer", "chat", "model", "engine"}},
      {"cli", {"util", "tensor", "gguf", "kernels", "tokenizer", "chat", "model", "engine", "synth", "server", "hub", "convert"}},
  };
  return m;
}

// The directory an `#include "dir/file.h"` line names ("" for other lines). (Not std::regex: GCC 12
// warns inside <regex> under the sanitizer builds.)
std::string included_layer(const std::string& line) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string::npos || line[i] != '#') return "";
  i = line.find_first_not_of(" \t", i + 1);
  if (i == std::string::npos || line.compare(i, 7, "include") != 0) return "";
  i = line.find_first_not_of(" \t", i + 7);
  if (i == std::string::npos || line[i] != '"') return "";
  const size_t slash = line.find('/', i + 1), quote = line.find('"', i + 1);
  if (slash == std::string::npos || slash > quote) return "";
  return line.substr(i + 1, slash - i - 1);
}

std::vector<fs::path> source_files() {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(QIUSUO_SOURCE_DIR) / "src")) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".h" || ext == ".cpp")) out.push_back(e.path());
  }
  return out;
}

}  // namespace

TEST(Layering, NoLayerIncludesAHigherOne) {
  const auto files = source_files();
  ASSERT_GT(files.size(), 100u);
  for (const auto& p : files) {
    const std::string layer = p.parent_path().filename().string();
    const auto it = allowed().find(layer);
    ASSERT_NE(it, allowed().end()) << p << ": src/" << layer << " is not a known layer (add it to the map and the docs)";
    std::ifstream in(p);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      const std::string target = included_layer(line);
      if (target.empty()) continue;
      EXPECT_TRUE(target == layer || it->second.count(target))
          << p.lexically_relative(QIUSUO_SOURCE_DIR) << ":" << n << ": src/" << layer << " includes src/" << target;
    }
  }
}

TEST(Layering, NoSourceFileIsOver800Lines) {
  for (const auto& p : source_files()) {
    std::ifstream in(p);
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    EXPECT_LE(n, 800) << p.lexically_relative(QIUSUO_SOURCE_DIR);
  }
}
