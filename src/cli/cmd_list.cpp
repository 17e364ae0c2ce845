// `qiusuo list`: the models in the cache, with their sizes and paths.
#include <cstdio>

#include "cli/commands.h"
#include "hub/model_cache.h"
#include "util/progress.h"

namespace qs::cli {

void register_list(CLI::App& app) {
  auto* cmd = app.add_subcommand("list", "List pulled models");
  cmd->alias("ls");
  cmd->callback([] {
    const auto models = hub::list_cached();
    if (models.empty()) {
      std::printf("no models in %s (qiusuo pull owner/repo:TAG)\n", hub::models_root().c_str());
      return;
    }
    size_t w = 5;
    for (const auto& m : models) w = std::max(w, m.ref.size());
    std::printf("%-*s  %10s  %s\n", static_cast<int>(w), "MODEL", "SIZE", "PATH");
    for (const auto& m : models)
      std::printf("%-*s  %10s  %s\n", static_cast<int>(w), m.ref.c_str(), human_bytes(static_cast<double>(m.bytes)).c_str(),
                  m.path.c_str());
  });
}

}  // namespace qs::cli
