// Numbers from JS, which are doubles: the one check that a value is a whole
// number in a range (NaN, infinities and fractions refused), for every
// binding that takes counts, sizes, ports or coordinates.
#pragma once

#include <napi.h>

#include <cmath>
#include <optional>

namespace nestbox::binding {

inline std::optional<double> whole_number_within(const Napi::Value& value, double min, double max) {
  if (!value.IsNumber()) return std::nullopt;
  const double number = value.As<Napi::Number>().DoubleValue();
  // The comparisons are false for NaN; floor() rejects fractions.
  if (!(number >= min && number <= max) || std::floor(number) != number) return std::nullopt;
  return number;
}

}  // namespace nestbox::binding
