// `qiusuo rm owner/repo[:TAG]`: deletes a pulled model from the cache.
#include <cstdio>

#include "cli/commands.h"
#include "hub/model_cache.h"
#include "util/progress.h"

namespace qs::cli {

void register_rm(CLI::App& app) {
  auto* cmd = app.add_subcommand("rm", "Delete a pulled model");
  static std::vector<std::string> refs;
  cmd->add_option("ref", refs, "owner/repo[:TAG] as `qiusuo list` shows it")->required();
  cmd->callback([] {
    for (const auto& s : refs) {
      const auto ref = hub::parse_model_ref(s);
      if (!ref) throw std::invalid_argument("'" + s + "' is not a model reference: owner/repo[:TAG]");
      const uint64_t freed = hub::remove_cached(*ref);
      std::printf("deleted %s (%s)\n", ref->str().c_str(), human_bytes(static_cast<double>(freed)).c_str());
    }
  });
}

}  // namespace qs::cli
