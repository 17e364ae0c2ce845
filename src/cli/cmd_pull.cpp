// `qiusuo pull owner/repo[:TAG]`: a GGUF model from Hugging Face (or a mirror, or ModelScope) into the
// model cache. The last line on stdout is the model's path, for scripts.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "hub/model_cache.h"
#include "hub/pull.h"

namespace qs::cli {

namespace {

struct PullArgs {
  std::string ref, revision;
  int parallel = 4;
  double stall_s = 30;
  int retries = 8;
};

void run_pull(const PullArgs& a) {
  auto ref = hub::parse_model_ref(a.ref);
  if (!ref) throw std::invalid_argument("'" + a.ref + "' is not a model reference: owner/repo[:TAG] (hf.co/..., modelscope:...)");
  if (!a.revision.empty()) ref->revision = a.revision;
  hub::PullOptions o;
  o.parallel = a.parallel;
  o.progress_tty = isatty(STDERR_FILENO);
  o.policy.request.stall_timeout_s = static_cast<long>(a.stall_s < 1 ? 1 : a.stall_s);
  o.policy.max_attempts = a.retries;
  if (const char* b = std::getenv("QIUSUO_PULL_BACKOFF_S")) o.policy.backoff_s = std::atof(b);  // tests shorten the waits
  const hub::PullResult r = hub::pull_model(*ref, o);
  std::fprintf(stderr, "pulled %s:%s (%s, %s transferred)\n", ref->repo.c_str(), r.tag.c_str(),
               human_bytes(static_cast<double>(r.bytes)).c_str(), human_bytes(static_cast<double>(r.downloaded)).c_str());
  std::printf("%s\n", r.path.c_str());
}

}  // namespace

void register_pull(CLI::App& app) {
  auto* cmd = app.add_subcommand("pull", "Download a GGUF model from Hugging Face (HF_ENDPOINT for a mirror) or ModelScope");
  static PullArgs a;
  cmd->add_option("ref", a.ref, "owner/repo[:TAG] (TAG: a quant such as Q4_K_M or UD-IQ1_S; modelscope:owner/repo for ModelScope)")
      ->required();
  cmd->add_option("--revision", a.revision, "branch, tag or commit (default: main)");
  cmd->add_option("--parallel", a.parallel, "files downloaded at once")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--stall-timeout", a.stall_s, "seconds without data before a connection is retried")
      ->capture_default_str()->check(CLI::Range(1.0, 3600.0));
  cmd->add_option("--retries", a.retries, "tries in a row without progress before giving up")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->callback([] { run_pull(a); });
}

}  // namespace qs::cli
