// Reads commands on stdin, one per line, and prints what the C++ decoder computes, for
// test/learned-entropy-native.test.ts to compare with the TypeScript reference:
//   phi <x as 16 hex digits of a double>      -> det_phi(x) as 16 hex digits
//   tables                                     -> 64 lines: offset, then the frequencies
//   gaussian <bytes hex> <n> <n scales as 8 hex digits of float32 each>
//                                              -> the decoded symbols, or "error <message>"
#include <cstdio>
#include <iostream>
#include <sstream>
#include "learned_entropy.hpp"

using namespace diffc::learned;

static std::vector<uint8_t> hex_bytes(const std::string& h) {
  std::vector<uint8_t> out(h.size() / 2);
  for (size_t i = 0; i < out.size(); i++) out[i] = uint8_t(std::stoul(h.substr(2 * i, 2), nullptr, 16));
  return out;
}

int main() {
  std::vector<Table> tables;
  for (int k = 0; k < 64; k++) tables.push_back(gaussian_table(k));
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "phi") {
      std::string h;
      in >> h;
      uint64_t bits = std::stoull(h, nullptr, 16);
      double x;
      std::memcpy(&x, &bits, 8);
      double y = det_phi(x);
      std::memcpy(&bits, &y, 8);
      std::printf("%016llx\n", static_cast<unsigned long long>(bits));
    } else if (cmd == "tables") {
      for (const Table& t : tables) {
        std::printf("%lld", static_cast<long long>(t.offset));
        for (uint32_t f : t.freqs) std::printf(" %u", f);
        std::printf("\n");
      }
    } else if (cmd == "gaussian") {
      std::string h;
      size_t n;
      in >> h >> n;
      std::vector<float> scales(n);
      for (size_t i = 0; i < n; i++) {
        std::string s;
        in >> s;
        scales[i] = f32_of(uint32_t(std::stoul(s, nullptr, 16)));
      }
      try {
        std::vector<int32_t> sym = decode_gaussian(hex_bytes(h), scales, tables);
        for (size_t i = 0; i < sym.size(); i++) std::printf(i ? " %d" : "%d", sym[i]);
        std::printf("\n");
      } catch (const std::exception& e) {
        std::printf("error %s\n", e.what());
      }
    }
    std::fflush(stdout);
  }
  return 0;
}
