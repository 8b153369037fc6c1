// NumPy .npy files and raw files as buffer initializers. The .npy header is a Python dict literal
// ({'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }); it is parsed here by hand because
// the format is tiny and fixed, and no library in use reads it.

#include "npy.hpp"

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "attune/error.hpp"

namespace attune::detail {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

[[noreturn]] void malformed(const std::string& what) {
  throw Error(ErrorCode::ParseError, "not a valid .npy file: " + what);
}

// A cursor over the header's dict literal.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) {
      malformed(std::string("expected '") + c + "' at offset " + std::to_string(pos_) +
                " of the header `" + std::string(text_) + "`");
    }
  }
  std::string quoted() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      malformed("expected a quoted string at offset " + std::to_string(pos_) + " of the header `" +
                std::string(text_) + "`");
    }
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) malformed("unterminated string in the header");
    std::string out(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const std::size_t n = std::strlen(word);
      if (text_.substr(pos_, n) == word) {
        pos_ += n;
        return value;
      }
    }
    malformed("expected True or False for 'fortran_order' in the header `" + std::string(text_) +
              "`");
  }
  std::vector<std::uint64_t> shape() {
    expect('(');
    std::vector<std::uint64_t> out;
    while (!accept(')')) {
      skip_space();
      std::uint64_t n = 0;
      const std::size_t start = pos_;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        n = n * 10 + static_cast<std::uint64_t>(text_[pos_++] - '0');
      }
      if (pos_ == start) {
        malformed("expected a dimension in the shape of `" + std::string(text_) + "`");
      }
      if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 longs
      out.push_back(n);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return out;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

std::uint32_t read_le(std::span<const std::byte> bytes, std::size_t offset, std::size_t width) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value |= static_cast<std::uint32_t>(bytes[offset + i]) << (8 * i);
  }
  return value;
}

std::vector<std::byte> read_whole_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::NotFound,
                "cannot read " + file.string() + " (paths are relative to the spec's directory)");
  }
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  if (!chars.empty()) std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return out + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

std::uint64_t NpyHeader::element_count() const noexcept {
  std::uint64_t n = 1;
  for (std::uint64_t d : shape) n *= d;
  return n;
}

std::string_view npy_descr(ElementType type) noexcept {
  switch (type) {
    case ElementType::Float32: return "<f4";
    case ElementType::Float64: return "<f8";
    case ElementType::Int32: return "<i4";
    case ElementType::Int64: return "<i8";
    case ElementType::UInt8: return "|u1";
    case ElementType::UInt32: return "<u4";
  }
  return "";
}

bool is_npy(std::span<const std::byte> bytes) noexcept {
  return bytes.size() >= kMagic.size() &&
         std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) == 0;
}

NpyHeader parse_npy_header(std::span<const std::byte> bytes) {
  if (!is_npy(bytes)) malformed("it does not begin with the magic string \\x93NUMPY");
  if (bytes.size() < 10) malformed("the file ends inside its preamble");
  NpyHeader header;
  header.major_version = static_cast<int>(bytes[6]);
  std::size_t length_width = 0;
  switch (header.major_version) {
    case 1: length_width = 2; break;
    case 2:
    case 3: length_width = 4; break;
    default:
      malformed("format version " + std::to_string(header.major_version) + "." +
                std::to_string(static_cast<int>(bytes[7])) +
                " is not one of 1.0, 2.0, 3.0 (save it with numpy.save)");
  }
  const std::size_t preamble = 8 + length_width;
  if (bytes.size() < preamble) malformed("the file ends inside its preamble");
  const std::size_t header_length = read_le(bytes, 8, length_width);
  if (bytes.size() < preamble + header_length) {
    malformed("the header says it is " + std::to_string(header_length) +
              " bytes long but the file ends before that");
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + preamble,
                              header_length);
  header.data_offset = preamble + header_length;

  HeaderParser p(text);
  p.expect('{');
  bool seen_descr = false, seen_order = false, seen_shape = false;
  while (!p.accept('}')) {
    const std::string key = p.quoted();
    p.expect(':');
    if (key == "descr") {
      header.descr = p.quoted();
      seen_descr = true;
    } else if (key == "fortran_order") {
      header.fortran_order = p.boolean();
      seen_order = true;
    } else if (key == "shape") {
      header.shape = p.shape();
      seen_shape = true;
    } else {
      malformed("unexpected key '" + key + "' in the header `" + std::string(text) + "`");
    }
    if (!p.accept(',')) {
      p.expect('}');
      break;
    }
  }
  if (!seen_descr || !seen_order || !seen_shape) {
    malformed("the header `" + std::string(text) +
              "` lacks one of 'descr', 'fortran_order', 'shape'");
  }
  return header;
}

std::vector<std::byte> read_array_file(const std::filesystem::path& file, ElementType type,
                                       std::size_t count) {
  std::vector<std::byte> bytes = read_whole_file(file);
  const std::size_t element_size = size_of(type);
  const std::uint64_t want_bytes = static_cast<std::uint64_t>(count) * element_size;

  if (!is_npy(bytes)) {
    if (bytes.size() != want_bytes) {
      throw Error(ErrorCode::InvalidArgument,
                  file.string() + " is " + std::to_string(bytes.size()) + " bytes; as raw " +
                      std::string(to_string(type)) + " data it must be " + std::to_string(count) +
                      " elements * " + std::to_string(element_size) +
                      " bytes = " + std::to_string(want_bytes) + " bytes");
    }
    return bytes;
  }

  NpyHeader header;
  try {
    header = parse_npy_header(bytes);
  } catch (const Error& e) {
    throw Error(e.code(), file.string() + ": " + e.what());
  }
  const std::string_view want_descr = npy_descr(type);
  // A one-byte type has no byte order, and NumPy accepts any of its spellings.
  const bool descr_ok =
      header.descr == want_descr || (element_size == 1 && header.descr.size() == 3 &&
                                     header.descr.substr(1) == want_descr.substr(1));
  if (!descr_ok) {
    throw Error(ErrorCode::InvalidArgument,
                file.string() + " holds dtype '" + header.descr + "' but the argument is " +
                    std::string(to_string(type)) + ", which needs '" + std::string(want_descr) +
                    "'; convert it with array.astype(numpy.dtype('" + std::string(want_descr) +
                    "'))");
  }
  if (header.fortran_order && header.shape.size() > 1) {
    throw Error(ErrorCode::InvalidArgument,
                file.string() + " is in Fortran order (shape " + shape_text(header.shape) +
                    "); save it in C order with numpy.save(path, numpy.ascontiguousarray(a))");
  }
  if (header.element_count() != count) {
    throw Error(ErrorCode::InvalidArgument,
                file.string() + " has shape " + shape_text(header.shape) + ", " +
                    std::to_string(header.element_count()) + " elements; the argument has " +
                    std::to_string(count));
  }
  const std::size_t available = bytes.size() - header.data_offset;
  if (available != want_bytes) {
    throw Error(ErrorCode::InvalidArgument,
                file.string() + " has " + std::to_string(available) + " bytes of data after its " +
                    "header, but shape " + shape_text(header.shape) + " of " +
                    std::string(to_string(type)) + " needs " + std::to_string(want_bytes) +
                    "; the file is truncated or corrupt");
  }
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header.data_offset));
  return bytes;
}

}  // namespace attune::detail
