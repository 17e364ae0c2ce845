#include "convert/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

namespace qs {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

StDtype dtype_from(const std::string& s, const std::string& where) {
  if (s == "F32") return StDtype::F32;
  if (s == "F16") return StDtype::F16;
  if (s == "BF16") return StDtype::BF16;
  if (s == "F8_E4M3") return StDtype::F8_E4M3;
  if (s == "I64") return StDtype::I64;
  if (s == "I32") return StDtype::I32;
  if (s == "U8") return StDtype::U8;
  throw CheckpointError(where + ": unsupported dtype '" + s.substr(0, 32) + "' (F32, F16, BF16, F8_E4M3 are converted)");
}

}  // namespace

const char* st_dtype_name(StDtype t) {
  switch (t) {
    case StDtype::F32: return "F32";
    case StDtype::F16: return "F16";
    case StDtype::BF16: return "BF16";
    case StDtype::F8_E4M3: return "F8_E4M3";
    case StDtype::I64: return "I64";
    case StDtype::I32: return "I32";
    case StDtype::U8: return "U8";
  }
  return "?";
}

size_t st_dtype_size(StDtype t) {
  switch (t) {
    case StDtype::F32: case StDtype::I32: return 4;
    case StDtype::F16: case StDtype::BF16: return 2;
    case StDtype::F8_E4M3: case StDtype::U8: return 1;
    case StDtype::I64: return 8;
  }
  return 1;
}

int64_t StTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CheckpointError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st{};
  if (fstat(fd, &st) != 0 || st.st_size < 8) {
    ::close(fd);
    throw CheckpointError(path + ": not a safetensors file (shorter than its 8-byte header length)");
  }
  size_ = static_cast<size_t>(st.st_size);
  void* p = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw CheckpointError("cannot map " + path + ": " + std::strerror(errno));
  base_ = static_cast<const uint8_t*>(p);
  mapped_ = true;
  try {
    parse();
  } catch (...) {
    munmap(const_cast<uint8_t*>(base_), size_);
    throw;
  }
}

SafetensorsFile::SafetensorsFile(const uint8_t* data, size_t size, std::string label) : path_(std::move(label)), base_(data), size_(size) {
  if (size_ < 8) throw CheckpointError(path_ + ": not a safetensors file (shorter than its 8-byte header length)");
  parse();
}

void SafetensorsFile::parse() {
  const std::string& path = path_;
  uint64_t hlen = 0;
  std::memcpy(&hlen, base_, 8);
  if (hlen > kMaxHeaderBytes || hlen > size_ - 8)
    throw CheckpointError(path + ": header length " + std::to_string(hlen) + " runs past the file (" + std::to_string(size_) + " bytes)");
  json h;
  try {
    h = json::parse(base_ + 8, base_ + 8 + hlen);
  } catch (const json::exception& e) {
    throw CheckpointError(path + ": the header is not valid JSON (" + e.what() + ")");
  }
  if (!h.is_object()) throw CheckpointError(path + ": the header is not a JSON object");
  const uint64_t data_start = 8 + hlen, data_size = size_ - data_start;
  for (const auto& [name, e] : h.items()) {
    if (name == "__metadata__") continue;
    const std::string where = path + ": tensor " + name.substr(0, 200);
    try {
      StTensor t;
      t.name = name;
      t.file = path;
      t.dtype = dtype_from(e.at("dtype").get<std::string>(), where);
      uint64_t numel = 1;
      for (const auto& d : e.at("shape")) {
        if (!d.is_number_integer()) throw CheckpointError(where + ": bad shape");  // a float would not convert
        const int64_t v = d.get<int64_t>();
        if (v < 0 || (v > 0 && numel > (uint64_t{1} << 48) / static_cast<uint64_t>(v))) throw CheckpointError(where + ": bad shape");
        numel *= static_cast<uint64_t>(v);
        t.shape.push_back(v);
      }
      if (t.shape.size() > 4) throw CheckpointError(where + ": more than 4 dimensions");
      const auto off = e.at("data_offsets");
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        throw CheckpointError(where + ": data_offsets must be two non-negative integers");
      const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
      if (b > en || en > data_size)
        throw CheckpointError(where + ": data offsets [" + std::to_string(b) + ", " + std::to_string(en) + ") outside the " +
                              std::to_string(data_size) + " data bytes");
      if (en - b != numel * st_dtype_size(t.dtype))
        throw CheckpointError(where + ": " + std::to_string(en - b) + " bytes for a shape of " + std::to_string(numel) + " " +
                              st_dtype_name(t.dtype) + " values");
      t.data = base_ + data_start + b;
      t.nbytes = en - b;
      tensors_.push_back(std::move(t));
    } catch (const json::exception& ex) {
      throw CheckpointError(where + ": malformed entry (" + ex.what() + ")");
    }
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (mapped_) munmap(const_cast<uint8_t*>(base_), size_);
}

Checkpoint::Checkpoint(const std::string& dir) {
  const fs::path d(dir), index = d / "model.safetensors.index.json", single = d / "model.safetensors";
  std::vector<std::string> files;
  std::map<std::string, std::string> expected;  // tensor -> shard file, from the index
  if (fs::exists(index)) {
    json j;
    try {
      std::ifstream in(index);
      j = json::parse(in);
      for (const auto& [name, file] : j.at("weight_map").items()) expected[name] = file.get<std::string>();
    } catch (const json::exception& e) {
      throw CheckpointError(index.string() + ": malformed (" + e.what() + ")");
    }
    std::set<std::string> shards;
    for (const auto& [name, file] : expected) {
      if (file.find('/') != std::string::npos || file == ".." || file.empty())
        throw CheckpointError(index.string() + ": shard name '" + file.substr(0, 200) + "' is not a file in the folder");
      shards.insert(file);
    }
    for (const auto& s : shards) {
      if (!fs::exists(d / s)) throw CheckpointError(dir + ": shard " + s + " named by model.safetensors.index.json is missing");
      files.push_back((d / s).string());
    }
  } else if (fs::exists(single)) {
    files.push_back(single.string());
  } else {
    throw CheckpointError(dir + ": no model.safetensors or model.safetensors.index.json");
  }
  for (const auto& f : files) {
    files_.push_back(std::make_unique<SafetensorsFile>(f));
    for (const auto& t : files_.back()->tensors()) {
      if (!index_.emplace(t.name, &t).second) throw CheckpointError(dir + ": tensor " + t.name + " appears twice");
      if (!expected.empty()) {
        const auto it = expected.find(t.name);
        if (it == expected.end() || (d / it->second).string() != f)
          throw CheckpointError(f + ": holds " + t.name + ", which the index places elsewhere");
      }
    }
  }
  for (const auto& [name, file] : expected)
    if (!index_.count(name)) throw CheckpointError(dir + ": " + file + " lacks " + name + " (named by the index)");
}

const StTensor* Checkpoint::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

const StTensor& Checkpoint::at(const std::string& name) const {
  if (const StTensor* t = find(name)) return *t;
  throw CheckpointError("the checkpoint has no tensor " + name);
}

}  // namespace qs
