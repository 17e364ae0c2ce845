// qiusuo: one binary, verbs a person expects (info, logits, generate, synth, ...).
#include <malloc.h>

#include <cstdio>
#include <exception>

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
