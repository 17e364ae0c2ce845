// The vocabulary stored in a GGUF (tokenizer.ggml.*): token strings, types and special ids, and
// byte-level decoding of ids back to UTF-8 bytes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qs {

class GgufFile;

enum class TokenType : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

class Vocab {
 public:
  // nullopt when the file carries no tokenizer.
  static std::optional<Vocab> from_gguf(const GgufFile& f);
  // From already-parsed parts (tokenizer.json); missing types default to Normal.
  static Vocab from_parts(std::string model, std::string pre, std::vector<std::string> tokens,
                          std::vector<TokenType> types, int32_t bos, int32_t eos, int32_t eot, bool add_bos);

  int size() const { return static_cast<int>(tokens_.size()); }
  const std::string& token(int32_t id) const { return tokens_.at(static_cast<size_t>(id)); }
  TokenType type(int32_t id) const { return types_.at(static_cast<size_t>(id)); }
  const std::string& model() const { return model_; }
  const std::string& pre() const { return pre_; }
  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  int32_t eot() const { return eot_; }
  bool add_bos() const { return add_bos_; }
  bool is_eog(int32_t id) const;  // end of generation (eos, eot)

  // The bytes a token stands for (byte-level BPE: GPT-2's byte<->unicode map undone; control
  // tokens render as their text unless skip_special).
  std::string token_bytes(int32_t id, bool skip_special = false) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

 private:
  std::string model_, pre_;
  std::vector<std::string> tokens_;
  std::vector<TokenType> types_;
  int32_t bos_ = -1, eos_ = -1, eot_ = -1;
  bool add_bos_ = false;
};

// GPT-2 byte-level map: the code point that stands for each byte, and back (-1 if none).
uint32_t byte_to_codepoint(uint8_t b);
int codepoint_to_byte(uint32_t cp);

}  // namespace qs
