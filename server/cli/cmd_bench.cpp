// `ternserve-cli bench -m MODEL [-p 128 -n 64 -t 1,2 -r 3] [--batch 1,4,8,16] [--json]`:
// prompt processing (pp) and generation (tg) tokens/s like llama-bench, as the
// median of repeats, with the ratios that survive a noisy machine: the fraction
// of read bandwidth measured in the same run (tg) and int8 MACs per cycle per
// core (pp, and batched decode with the head counted). --batch adds batched decode: B
// sequences advanced one token per step.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/kv/paged_kv_cache.h"
#include "engine/model/forward.h"
#include "engine/model/model.h"
#include "kernels/cpu.h"
#include "server/cli/bench_machine.h"
#include "server/cli/commands.h"

namespace ts::cli {
namespace {

struct BenchOptions {
  std::string model;
  int n_prompt = 128;
  int n_gen = 64;
  std::string threads = "";
  std::string batches = "";
  int repeats = 3;
  bool json = false;
  std::string head = "auto";
  std::string kv_type = "q8";
  std::string depths = "";
};

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  for (int32_t v : ParseTokenIds(text)) out.push_back(v);
  return out;
}

struct Stats {
  double median = 0, min = 0, max = 0;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

class Bench {
 public:
  Bench(const model::Model& m, int n_threads, int max_batch, kv::KvType kv_type)
      : m_(m), kv_type_(kv_type), pool_(n_threads), pass_(m.config, m.weights, &pool_, max_batch) {}

  kernels::ThreadPool& pool() { return pool_; }

  // Returns tokens/s of prefilling n_prompt tokens in one batch (one sequence).
  double PromptRun(int n_prompt) {
    auto cache = Cache(1, n_prompt);
    std::vector<model::BatchToken> batch;
    for (int i = 0; i < n_prompt; ++i) batch.push_back({Token(i), i, 0, i + 1 == n_prompt});
    const auto start = std::chrono::steady_clock::now();
    pass_.Run(batch, *cache);
    return n_prompt / Seconds(start);
  }

  // Returns total tokens/s of n_seqs sequences each decoding n_gen tokens, one step per token,
  // after `depth` positions of context. Deep contexts are filled with random K/V rows instead
  // of a real prefill: decode cost depends on how many rows attention reads, not their values.
  double DecodeRun(int n_seqs, int n_gen, int depth = 8) {
    auto cache = Cache(n_seqs, depth + n_gen);
    const auto& c = m_.config;
    std::vector<float> k(static_cast<size_t>(c.kv_dim())), v(k.size());
    uint32_t state = 12345;
    for (int s = 0; s < n_seqs; ++s) {
      for (int layer = 0; layer < c.n_layers; ++layer) {
        for (int p = 0; p < depth; ++p) {
          for (size_t i = 0; i < k.size(); ++i) {
            state = state * 1664525u + 1013904223u;
            k[i] = static_cast<float>(static_cast<int32_t>(state >> 8) % 2000) * 1e-3f - 1.0f;
            v[i] = -k[i];
          }
          cache->Write(layer, s, p, k.data(), v.data());
        }
      }
    }
    std::vector<model::BatchToken> batch;
    const auto start = std::chrono::steady_clock::now();
    for (int step = 0; step < n_gen; ++step) {
      batch.clear();
      for (int s = 0; s < n_seqs; ++s) batch.push_back({Token(step * 7 + s), depth + step, s, true});
      pass_.Run(batch, *cache);
    }
    return static_cast<double>(n_seqs) * n_gen / Seconds(start);
  }

 private:
  std::unique_ptr<kv::PagedKvCache> Cache(int n_seqs, int n_ctx) {
    const auto& c = m_.config;
    constexpr int kBlock = 16;
    const int blocks_per_seq = (n_ctx + kBlock - 1) / kBlock;
    auto cache = std::make_unique<kv::PagedKvCache>(kv::KvShape{c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim},
                                                    kv_type_, kBlock, blocks_per_seq * n_seqs, n_seqs, n_ctx);
    for (int s = 0; s < n_seqs; ++s) cache->Reserve(s, n_ctx);
    return cache;
  }

  int32_t Token(int i) const { return static_cast<int32_t>((i * 7919 + 13) % m_.config.n_vocab); }

  const model::Model& m_;
  kv::KvType kv_type_;
  kernels::ThreadPool pool_;
  model::ForwardPass pass_;
};

int RunBench(const BenchOptions& opt) {
  auto model = LoadModel(opt.model, opt.head);
  const auto& c = model->config;
  const std::vector<int> threads = opt.threads.empty() ? std::vector<int>{kernels::DefaultThreadCount()} : ParseList(opt.threads);
  const std::vector<int> batches = opt.batches.empty() ? std::vector<int>{} : ParseList(opt.batches);
  const std::vector<int> depths = opt.depths.empty() ? std::vector<int>{} : ParseList(opt.depths);
  const kv::KvType kv_type = kv::ParseKvType(opt.kv_type);

  // Work per token: every ternary weight once; the head once per generated token.
  double macs_per_token = 0;
  for (const auto& l : model->weights.layers) {
    for (const auto* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      macs_per_token += static_cast<double>(m->n_rows) * m->n_cols;
    }
  }
  // A generated token also multiplies the head (a prompt run only does for its last token).
  const double macs_per_generated_token =
      macs_per_token + static_cast<double>(model->weights.head().n_rows) * model->weights.head().n_cols;
  const double bytes_per_token = static_cast<double>(model->weights.ternary_bytes() + model->weights.head_bytes());

  const double cpu_hz = kernels::MeasureCoreHz();
  nlohmann::json results = nlohmann::json::array();
  std::ostringstream table;
  char line[256];
  std::snprintf(line, sizeof line, "| %-10s | %7s | %16s | %18s | %14s |\n", "test", "threads", "tokens/s (min-max)",
                "bandwidth fraction", "MACs/cycle/core");
  table << line << "|------------|---------|------------------|--------------------|----------------|\n";
  int max_batch = std::max(opt.n_prompt, 1);
  for (int b : batches) max_batch = std::max(max_batch, b);

  for (int n_threads : threads) {
    Bench bench(*model, n_threads, max_batch, kv_type);
    ReadBandwidthProbe bandwidth(bench.pool());
    spdlog::info("{} threads: read bandwidth {:.1f} GB/s, core clock {:.2f} GHz, {:.0f} MB read per generated token",
                 n_threads, bandwidth.Measure(3) / 1e9, cpu_hz / 1e9, bytes_per_token / 1e6);
    auto record = [&](const std::string& test, const Stats& s, double bw_fraction, double macs_per_cycle) {
      nlohmann::json r = {{"test", test}, {"threads", n_threads}, {"tokens_per_s", s.median},
                          {"tokens_per_s_min", s.min}, {"tokens_per_s_max", s.max},
                          {"bandwidth_fraction", nullptr}, {"macs_per_cycle", nullptr}};
      char bw[32] = "-", mc[32] = "-";
      if (bw_fraction > 0) {
        r["bandwidth_fraction"] = bw_fraction;
        std::snprintf(bw, sizeof bw, "%.2f", bw_fraction);
      }
      if (macs_per_cycle > 0) {
        r["macs_per_cycle"] = macs_per_cycle;
        std::snprintf(mc, sizeof mc, "%.1f", macs_per_cycle);
      }
      results.push_back(r);
      char range[64];
      std::snprintf(range, sizeof range, "%.1f (%.1f-%.1f)", s.median, s.min, s.max);
      std::snprintf(line, sizeof line, "| %-10s | %7d | %16s | %18s | %14s |\n", test.c_str(), n_threads, range, bw, mc);
      table << line;
      if (!opt.json) spdlog::info("{} t={}: {:.2f} tokens/s", test, n_threads, s.median);
    };
    if (opt.n_prompt > 0) {
      bench.PromptRun(std::min(opt.n_prompt, 16));  // warm-up: caches, page faults, thread spin-up
      std::vector<double> runs;
      for (int r = 0; r < opt.repeats; ++r) runs.push_back(bench.PromptRun(opt.n_prompt));
      const Stats s = Summarize(runs);
      const double macs_per_cycle = cpu_hz > 0 ? s.median * macs_per_token / (cpu_hz * n_threads) : 0;
      record("pp" + std::to_string(opt.n_prompt), s, 0, macs_per_cycle);
    }
    if (opt.n_gen > 0) {
      bench.DecodeRun(1, 4);
      // Each run against the mean of the bandwidths measured just before and just after it: the
      // host's bandwidth drifts, by 10% between two probes a few seconds apart on a shared VM.
      std::vector<double> runs, fractions, bandwidths;
      double before = bandwidth.Measure(2);
      for (int r = 0; r < opt.repeats; ++r) {
        runs.push_back(bench.DecodeRun(1, opt.n_gen));
        const double after = bandwidth.Measure(2);
        bandwidths.push_back((before + after) / 2);
        fractions.push_back(runs.back() * bytes_per_token / bandwidths.back());
        before = after;
      }
      const Stats bw = Summarize(bandwidths);
      spdlog::info("tg{} t={}: read bandwidth around each run {:.1f} GB/s ({:.1f}-{:.1f})",
                   opt.n_gen, n_threads, bw.median / 1e9, bw.min / 1e9, bw.max / 1e9);
      record("tg" + std::to_string(opt.n_gen), Summarize(runs), Summarize(fractions).median, 0);
    }
    for (int b : batches) {
      std::vector<double> runs;
      for (int r = 0; r < opt.repeats; ++r) runs.push_back(bench.DecodeRun(b, std::max(opt.n_gen / 2, 8)));
      // Batches are compute bound: how close to the multipliers says how much more they can give.
      const Stats s = Summarize(runs);
      const double macs_per_cycle = cpu_hz > 0 ? s.median * macs_per_generated_token / (cpu_hz * n_threads) : 0;
      record("tg-batch" + std::to_string(b), s, 0, macs_per_cycle);
    }
    for (int d : depths) {
      std::vector<double> runs;
      const int n = std::max(opt.n_gen / 4, 8);
      for (int r = 0; r < opt.repeats; ++r) runs.push_back(bench.DecodeRun(1, n, d));
      record("tg" + std::to_string(n) + "@d" + std::to_string(d), Summarize(runs), 0, 0);
    }
  }
  if (opt.json) {
    nlohmann::json out = {{"model", c.name}, {"head", kernels::HeadTypeName(model->weights.head().type)},
                          {"kv_type", kv::KvTypeName(kv_type)},
                          {"isa", kernels::IsaName(kernels::ActiveIsa())}, {"results", results}};
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "model: " << c.name << ", head " << kernels::HeadTypeName(model->weights.head().type) << ", kv "
              << kv::KvTypeName(kv_type) << ", kernels "
              << kernels::IsaName(kernels::ActiveIsa()) << "\n"
              << table.str();
  }
  return 0;
}

}  // namespace

CommandFn AddBenchCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Prompt and generation speed, as ratios to the machine's limits");
  auto opt = std::make_shared<BenchOptions>();
  cmd->add_option("-m,--model", opt->model, "GGUF model (default: built-in model)");
  cmd->add_option("-p,--n-prompt", opt->n_prompt, "Prompt tokens (0 = skip)")->check(CLI::Range(0, 8192));
  cmd->add_option("-n,--n-gen", opt->n_gen, "Generated tokens (0 = skip)")->check(CLI::Range(0, 8192));
  cmd->add_option("-t,--threads", opt->threads, "Thread counts, comma-separated (default: physical cores)");
  cmd->add_option("-b,--batch", opt->batches, "Batched decode: sequences per step, comma-separated (e.g. 1,4,8,16)");
  cmd->add_option("-r,--repeats", opt->repeats, "Repeats per test (median reported)")->check(CLI::Range(1, 100));
  cmd->add_option("--head", opt->head, "Output head storage: auto, f32, f16, q8, q4");
  cmd->add_option("--kv-type", opt->kv_type, "KV cache storage: f32, f16, q8, q4")->check(CLI::IsMember({"f32", "f16", "q8", "q4"}));
  cmd->add_option("-d,--depth", opt->depths, "Decode at these context depths, comma-separated (e.g. 512,2048,4096)");
  cmd->add_flag("--json", opt->json, "Print one JSON line instead of the table");
  return [opt] { return RunBench(*opt); };
}

}  // namespace ts::cli
