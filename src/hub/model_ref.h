// What a user types to name a published model: `owner/repo[:TAG]`, also as `hf.co/owner/repo:TAG`,
// `huggingface.co/...` (Hugging Face) or `modelscope:owner/repo:TAG` (ModelScope).
#pragma once
#include <optional>
#include <string>

namespace qs::hub {

enum class HubSource { HuggingFace, ModelScope };

struct ModelRef {
  HubSource source = HubSource::HuggingFace;
  std::string repo;      // owner/name
  std::string tag;       // the quant asked for ("" = the default choice)
  std::string revision;  // branch, tag or commit ("" = the source's default branch)

  // The canonical spelling ("owner/repo:TAG", "modelscope:owner/repo:TAG").
  std::string str() const;
  std::string revision_or_default() const;
};

// nullopt when `s` is not a model reference (a file path, a malformed name).
std::optional<ModelRef> parse_model_ref(const std::string& s);

// True when a model argument names a reference rather than a file: it is not an existing path, has no
// .gguf/.json ending and parses as a reference.
bool looks_like_model_ref(const std::string& arg);

}  // namespace qs::hub
