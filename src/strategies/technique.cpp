// The History, the random helpers and the Technique-to-Strategy adapter that the built-in search
// strategies share. Save and restore log the ask and tell calls and replay them, which is exact
// because every technique is a deterministic function of its seed and what it was told.

#include "strategies/technique.hpp"

#include <algorithm>

#include "attune/error.hpp"

namespace attune::detail {
namespace {

__extension__ typedef unsigned __int128 Uint128;

// Above this many values (configurations x parameters) positions are decoded on demand.
constexpr std::size_t kMaxPositionTable = std::size_t{64} << 20;

}  // namespace

std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound) {
  // Lemire's multiply-shift with rejection: one draw almost always, and exactly uniform.
  std::uint64_t x = rng();
  Uint128 product = static_cast<Uint128>(x) * bound;
  auto low = static_cast<std::uint64_t>(product);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      x = rng();
      product = static_cast<Uint128>(x) * bound;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

void shuffle(std::vector<std::size_t>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[uniform_below(rng, i)]);
}

void History::reset(const SearchSpace& space) {
  space_ = &space;
  size_ = space.size();
  seen_.assign(size_, 0);
  seen_count_ = 0;
  observations_.clear();
  measured_.clear();
  best_.reset();
  position_table_.clear();
}

void History::mark(std::size_t index) {
  if (!seen_[index]) {
    seen_[index] = 1;
    ++seen_count_;
  }
}

void History::record(const Observation& o) {
  mark(o.index);
  observations_.push_back(o);
  measured_[o.index] = observations_.size() - 1;
  if (o.status == Status::Ok && (!best_ || o.objective < observations_[*best_].objective)) {
    best_ = observations_.size() - 1;
  }
}

const Observation* History::find(std::size_t index) const {
  const auto it = measured_.find(index);
  return it == measured_.end() ? nullptr : &observations_[it->second];
}

std::vector<const Observation*> History::ranked() const {
  std::vector<const Observation*> out;
  for (const Observation& o : observations_) {
    if (o.status == Status::Ok) out.push_back(&o);
  }
  std::stable_sort(out.begin(), out.end(), [](const Observation* a, const Observation* b) {
    return a->objective < b->objective;
  });
  return out;
}

std::optional<std::size_t> History::random_unseen(std::mt19937_64& rng) const {
  if (seen_count_ >= size_) return std::nullopt;
  // Rejection is fast while most of the space is unseen; past that, pick the k-th unseen one.
  if (seen_count_ * 2 <= size_) {
    for (;;) {
      const std::size_t i = uniform_below(rng, size_);
      if (!seen_[i]) return i;
    }
  }
  std::size_t k = uniform_below(rng, size_ - seen_count_);
  for (std::size_t i = 0; i < size_; ++i) {
    if (!seen_[i] && k-- == 0) return i;
  }
  return std::nullopt;
}

const std::uint32_t* History::positions(std::size_t index) {
  const std::size_t d = space_->params().size();
  if (size_ * d <= kMaxPositionTable) {
    if (position_table_.empty()) {
      position_table_.resize(size_ * d);
      for (std::size_t i = 0; i < size_; ++i) {
        const Config c = space_->at(i);
        std::copy(c.indices().begin(), c.indices().end(), position_table_.begin() + i * d);
      }
    }
    return position_table_.data() + index * d;
  }
  const Config c = space_->at(index);
  scratch_.assign(c.indices().begin(), c.indices().end());
  return scratch_.data();
}

std::optional<std::size_t> History::index_of(const std::vector<std::uint32_t>& positions) const {
  return space_->index_of(Config(space_, positions));
}

TechniqueStrategy::TechniqueStrategy(std::string name, std::unique_ptr<Technique> technique)
    : name_(std::move(name)), technique_(std::move(technique)) {}

void TechniqueStrategy::start(const SearchSpace& space, std::uint64_t seed) {
  space_ = &space;
  seed_ = seed;
  history_.reset(space);
  fallback_rng_.seed(seed ^ 0x9e3779b97f4a7c15ull);
  pending_.clear();
  events_ = nlohmann::json::array();
  technique_->start(history_, seed);
}

std::vector<std::size_t> TechniqueStrategy::ask(std::size_t max_count) {
  std::vector<std::size_t> out;
  events_.push_back(nlohmann::json::array({"ask", max_count}));
  while (out.size() < max_count) {
    std::optional<std::size_t> index = technique_->propose();
    bool own = true;
    if (!index || *index >= history_.size() || history_.seen(*index)) {
      index = history_.random_unseen(fallback_rng_);
      own = false;
    }
    if (!index) break;
    history_.mark(*index);
    pending_[*index] = own;
    out.push_back(*index);
  }
  return out;
}

void TechniqueStrategy::tell(const Observation& observation) {
  const auto it = pending_.find(observation.index);
  if (it == pending_.end()) {
    throw Error(ErrorCode::InvalidArgument, "strategy '" + name_ +
                                                "' was told about configuration " +
                                                std::to_string(observation.index) +
                                                ", which it did not propose or was "
                                                "already told about");
  }
  const bool own = it->second;
  pending_.erase(it);
  events_.push_back(nlohmann::json::array(
      {"tell", observation.index, to_string(observation.status), observation.objective}));
  history_.record(observation);
  technique_->observe(observation, own);
}

nlohmann::json TechniqueStrategy::save_state() const {
  return {{"strategy", name_},
          {"size", space_ ? space_->size() : 0},
          {"signature", space_ ? space_->signature() : 0},
          {"seed", seed_},
          {"events", events_}};
}

void TechniqueStrategy::load_state(const nlohmann::json& state) {
  const auto reject = [&](const std::string& why) {
    throw Error(ErrorCode::InvalidArgument, "saved state does not belong to strategy '" + name_ +
                                                "' over this space and seed (" + why +
                                                "); start afresh or restore it with the "
                                                "strategy, space and seed that saved it");
  };
  if (!space_) reject("start() was not called");
  if (!state.is_object() || state.value("strategy", "") != name_) reject("another strategy");
  if (state.value("size", std::size_t{0}) != space_->size() ||
      state.value("signature", std::uint64_t{0}) != space_->signature()) {
    reject("another space");
  }
  if (state.value("seed", seed_ + 1) != seed_) reject("another seed");
  if (!state.contains("events") || !state["events"].is_array()) reject("no event log");
  const nlohmann::json events = state["events"];
  start(*space_, seed_);
  try {
    for (const auto& e : events) {
      const std::string kind = e.at(0).get<std::string>();
      if (kind == "ask") {
        ask(e.at(1).get<std::size_t>());
      } else if (kind == "tell") {
        const auto status = status_from_string(e.at(2).get<std::string>());
        if (!status) reject("unknown status " + e.at(2).dump());
        tell(Observation{e.at(1).get<std::size_t>(), *status, e.at(3).get<double>()});
      } else {
        reject("unknown event " + e.dump());
      }
    }
  } catch (const nlohmann::json::exception& ex) {
    reject(std::string("malformed event log: ") + ex.what());
  }
}

}  // namespace attune::detail
