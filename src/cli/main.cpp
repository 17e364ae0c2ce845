// qiusuo: one binary, verbs a person expects (info, logits, generate, synth, ...).
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "engine/memory_budget.h"

int main(int argc, char** argv) {
  CLI::App app{"qiusuo (求索): runs DeepSeek-family models on your own hardware"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "qiusuo 0.1.0");
  // Accepted before or after the verb (fallthrough): it applies to whatever the verb loads.
  app.fallthrough();
  app.add_flag_callback("--no-mem-check", [] { qs::disable_memory_checks(); },
                        "load models and allocate caches even when they exceed the memory limit "
                        "(MemTotal, cgroup, QIUSUO_MEMORY_LIMIT_MIB)");
  qs::cli::register_info(app);
  qs::cli::register_logits(app);
  qs::cli::register_generate(app);
  qs::cli::register_synth(app);
  qs::cli::register_bench(app);
  qs::cli::register_tokenize(app);
  qs::cli::register_detokenize(app);
  qs::cli::register_template(app);
  qs::cli::register_serve(app);
  qs::cli::register_run(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qiusuo: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
