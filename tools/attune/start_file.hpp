#pragma once
// Known-good configurations given with --start FILE, evaluated before the strategy is asked.

#include <filesystem>
#include <vector>

#include "attune/search_space.hpp"

namespace attune::cli {

/// Reads a JSON file holding one configuration object {name: value, ...} or a list of them and
/// returns their indices in `space`, in file order, without duplicates. Throws Error naming the
/// file (and the entry) when it cannot be read, is not such JSON, or holds a configuration that
/// is not in the space.
std::vector<std::size_t> read_start_file(const std::filesystem::path& file,
                                         const SearchSpace& space);

}  // namespace attune::cli
