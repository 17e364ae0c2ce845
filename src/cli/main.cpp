// qiusuo: one binary, verbs a person expects (info, logits, generate, synth, ...).
#include <malloc.h>

#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "model/memory_budget.h"
#include "util/version.h"

int main(int argc, char** argv) {
  // A forward pass allocates its activations (up to tens of MiB in prefill) and frees them again.
  // glibc's defaults hand such blocks back to the kernel (mmap above an adaptive threshold, heap
  // trimming above twice it), so every pass paid page faults and kernel page clearing for them:
  // ~12% of a pp512 profile. Serve blocks up to 32 MiB from the heap and keep up to 256 MiB of freed
  // heap for the next pass.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  CLI::App app{"qiusuo (求索): runs DeepSeek-family models on your own hardware"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("qiusuo ") + qs::kVersion);
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
  qs::cli::register_pull(app);
  qs::cli::register_list(app);
  qs::cli::register_rm(app);
  qs::cli::register_convert(app);
  qs::cli::register_quantize(app);
  // A bare `qiusuo` prints the help; an unknown verb says so and lists the verbs (CLI11 would answer
  // "A subcommand is required" to both).
  if (argc == 1) {
    std::printf("%s", app.help().c_str());
    return 0;
  }
  if (argv[1][0] != '-') {
    bool known = false;
    std::string verbs;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known = known || sub->check_name(argv[1]);
      verbs += (verbs.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "qiusuo: unknown command '%s'\ncommands: %s\n(qiusuo --help, or qiusuo COMMAND --help)\n", argv[1],
                   verbs.c_str());
      return 2;
    }
  }
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
