// A search space of your own, with constraints in Kernel Tuner's restriction syntax: prints how
// many configurations are valid and the first few in Kernel Tuner's key form.

#include <cstdio>

#include "attune/search_space.hpp"

int main() {
  using attune::SearchSpace;
  const SearchSpace space({{"block_size_x", {16, 32, 64, 128}},
                           {"block_size_y", {1, 2, 4, 8}},
                           {"tile", {1, 2, 4}}},
                          {"32 <= block_size_x * block_size_y <= 256",
                           "tile == 1 or block_size_x % (16 * tile) == 0"});
  std::printf("%zu valid configurations of %llu\n", space.size(),
              static_cast<unsigned long long>(space.cartesian_size()));
  for (std::size_t i = 0; i < space.size() && i < 5; ++i) {
    std::printf("  %s\n", space.at(i).key().c_str());
  }
  return 0;
}
