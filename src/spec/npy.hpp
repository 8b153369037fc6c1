#pragma once
// Reading a buffer's initial contents from a file: NumPy's .npy format (versions 1.0, 2.0 and 3.0)
// or raw bytes. Private to the spec module.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attune/kernel_spec.hpp"

namespace attune::detail {

/// What a .npy header says about the array that follows it.
struct NpyHeader {
  int major_version = 1;
  std::string descr;  ///< NumPy's dtype string, e.g. "<f4"
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;  ///< empty for a 0-d array (one element)
  std::size_t data_offset = 0;       ///< where the elements begin in the file
  /// Product of the shape (1 for a 0-d array).
  std::uint64_t element_count() const noexcept;
};

/// The dtype string NumPy writes for `type` on a little-endian machine: "<f4", "<f8", "<i4",
/// "<i8", "|u1", "<u4".
std::string_view npy_descr(ElementType type) noexcept;

/// Whether `bytes` begin with the .npy magic string "\x93NUMPY".
bool is_npy(std::span<const std::byte> bytes) noexcept;

/// Parses the header at the start of `bytes`. Throws Error(ParseError) saying what is malformed
/// (bad magic, unknown version, a header that is not NumPy's dict literal, a truncated file).
NpyHeader parse_npy_header(std::span<const std::byte> bytes);

/// The contents of `file` as `count` elements of `type`: a .npy file (recognized by its magic,
/// whatever its name) must have the matching dtype, C order (or one dimension) and `count`
/// elements in all; any other file is raw little-endian elements and its size must be exactly
/// count * size_of(type). Throws Error(NotFound) for a file that cannot be read and
/// Error(InvalidArgument) for a mismatch, naming the file and what was expected.
std::vector<std::byte> read_array_file(const std::filesystem::path& file, ElementType type,
                                       std::size_t count);

}  // namespace attune::detail
