// Leak reports of strategies created with track_allocations: the summary line
// at destroy stays the documented one, followed by the leaked blocks grouped
// by allocation site, largest first; the JSON form lists the live blocks at
// any time.  Leaked blocks come from a RecordingBackend, whose destructor
// frees them, so LeakSanitizer stays clean.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "default_strategy.h"
#include "leak_report.h"
#include "test_support.h"

namespace {

using mstest::RecordingBackend;

std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// What a printer wrote to a temporary file.
template <typename Print>
std::string Printed(Print print) {
    std::FILE* f = std::tmpfile();
    if (f == nullptr) return "<no tmpfile>";
    const bool ok = print(f);
    std::rewind(f);
    std::string text;
    for (int c; (c = std::fgetc(f)) != EOF;) text.push_back(static_cast<char>(c));
    std::fclose(f);
    return ok ? text : "<failed>";
}

DefaultStrategyConfig TrackingConfig(RecordingBackend* backend) {
    DefaultStrategyConfig config = backend->Config();
    config.track_allocations = true;
    return config;
}

// Two blocks from one site (file:line of the macro in this function).  Neither
// inlined nor cloned: an optimising build would otherwise give each call its
// own return address, i.e. its own site.
#if defined(__clang__)
#define MS_ONE_COPY __attribute__((noinline))
#else
#define MS_ONE_COPY __attribute__((noipa))
#endif
MS_ONE_COPY void* AllocateHere(DefaultStrategy* s, size_t size, int* line) {
    *line = __LINE__ + 1;
    return STRATEGY_ALLOCATE(&s->base, size);
}

TEST(LeakReport, SummaryThenSitesLargestFirst) {
    RecordingBackend backend;
    DefaultStrategyConfig config = TrackingConfig(&backend);
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    int line_a = 0;
    ASSERT_NE(nullptr, AllocateHere(s, 100, &line_a));
    ASSERT_NE(nullptr, AllocateHere(s, 300, &line_a));
    const int line_b = __LINE__ + 1;
    void* b = STRATEGY_ALLOCATE(&s->base, 200);
    ASSERT_NE(nullptr, b);
    void* freed = STRATEGY_ALLOCATE(&s->base, 5000);  // freed: not in the report
    ASSERT_NE(nullptr, freed);
    s->base.deallocate(&s->base, freed);

    ::testing::internal::CaptureStderr();
    destroy_default_strategy(s);
    const std::vector<std::string> lines = Lines(::testing::internal::GetCapturedStderr());
    ASSERT_EQ(6u, lines.size());
    EXPECT_EQ("memstrategy: leak: 600 bytes in 3 blocks still allocated at destroy", lines[0]);
    const std::string site_a = std::string(__FILE__) + ":" + std::to_string(line_a) + " (";
    const std::string site_b = std::string(__FILE__) + ":" + std::to_string(line_b) + " (";
    EXPECT_TRUE(StartsWith(lines[1], "memstrategy: leak: 400 bytes in 2 blocks allocated at " + site_a)) << lines[1];
    EXPECT_TRUE(StartsWith(lines[2], "    300 bytes at 0x")) << lines[2];
    EXPECT_TRUE(StartsWith(lines[3], "    100 bytes at 0x")) << lines[3];
    EXPECT_TRUE(StartsWith(lines[4], "memstrategy: leak: 200 bytes in 1 block allocated at " + site_b)) << lines[4];
    std::ostringstream address;
    address << "    200 bytes at " << b;
    EXPECT_EQ(address.str(), lines[5]);
}

TEST(LeakReport, CallSitesWithoutTheMacroAreToldApart) {
    RecordingBackend backend;
    DefaultStrategyConfig config = TrackingConfig(&backend);
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    for (int i = 0; i < 3; i++) ASSERT_NE(nullptr, s->base.allocate(&s->base, 10));
    ASSERT_NE(nullptr, s->base.allocate(&s->base, 1000));
    ASSERT_NE(nullptr, s->base.allocate_zeroed(&s->base, 2, 2));
    const std::vector<std::string> lines = Lines(Printed([&](std::FILE* f) { return print_leak_report(s, f); }));
    ASSERT_EQ(8u, lines.size());
    EXPECT_TRUE(StartsWith(lines[0], "memstrategy: leak: 1000 bytes in 1 block allocated at ")) << lines[0];
    EXPECT_TRUE(StartsWith(lines[2], "memstrategy: leak: 30 bytes in 3 blocks allocated at ")) << lines[2];
    EXPECT_TRUE(StartsWith(lines[6], "memstrategy: leak: 4 bytes in 1 block allocated at ")) << lines[6];
    // Each site names a place (not an empty string), and the sites differ.
    const std::string where0 = lines[0].substr(lines[0].find(" at ") + 4);
    const std::string where2 = lines[2].substr(lines[2].find(" at ") + 4);
    EXPECT_FALSE(where0.empty());
    EXPECT_NE(where0, where2);
    ::testing::internal::CaptureStderr();
    destroy_default_strategy(s);
    const std::vector<std::string> at_destroy = Lines(::testing::internal::GetCapturedStderr());
    ASSERT_EQ(9u, at_destroy.size());
    EXPECT_EQ("memstrategy: leak: 1034 bytes in 5 blocks still allocated at destroy", at_destroy[0]);
    for (size_t i = 0; i < lines.size(); i++) EXPECT_EQ(lines[i], at_destroy[i + 1]);
}

TEST(LeakReport, ReallocateMovesTheRecordAndFreeDropsIt) {
    RecordingBackend backend;
    DefaultStrategyConfig config = TrackingConfig(&backend);
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    void* p = STRATEGY_ALLOCATE(&s->base, 16);
    void* aligned = s->base.allocate_aligned(&s->base, 64, 24);
    ASSERT_NE(nullptr, p);
    ASSERT_NE(nullptr, aligned);
    p = s->base.reallocate(&s->base, p, 64);
    ASSERT_NE(nullptr, p);
    std::string json = Printed([&](std::FILE* f) { return print_leak_report_json(s, f); });
    EXPECT_EQ(0u, json.find("{\"tracking\":true,\"live_bytes\":88,\"live_blocks\":2,\"sites\":[{\"site\":\"")) << json;
    EXPECT_NE(std::string::npos, json.find("\"bytes\":64,\"blocks\":1,\"sizes\":[64]}")) << json;
    EXPECT_NE(std::string::npos, json.find("\"bytes\":24,\"blocks\":1,\"sizes\":[24]}]}\n")) << json;
    s->base.deallocate(&s->base, p);
    s->base.deallocate(&s->base, aligned);
    EXPECT_EQ("{\"tracking\":true,\"live_bytes\":0,\"live_blocks\":0,\"sites\":[]}\n",
              Printed([&](std::FILE* f) { return print_leak_report_json(s, f); }));
    EXPECT_EQ("", Printed([&](std::FILE* f) { return print_leak_report(s, f); }));
    ::testing::internal::CaptureStderr();
    destroy_default_strategy(s);
    EXPECT_EQ("", ::testing::internal::GetCapturedStderr());
}

TEST(LeakReport, JsonNamesTheMacroSite) {
    RecordingBackend backend;
    DefaultStrategyConfig config = TrackingConfig(&backend);
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    int line = 0;
    ASSERT_NE(nullptr, AllocateHere(s, 7, &line));
    ASSERT_NE(nullptr, AllocateHere(s, 9, &line));
    const std::string json = Printed([&](std::FILE* f) { return print_leak_report_json(s, f); });
    const std::string want = "\",\"file\":\"" + std::string(__FILE__) + "\",\"line\":" + std::to_string(line) +
                             ",\"bytes\":16,\"blocks\":2,\"sizes\":[9,7]}]}\n";
    EXPECT_NE(std::string::npos, json.find(want)) << json;
    EXPECT_EQ(0u, json.find("{\"tracking\":true,\"live_bytes\":16,\"live_blocks\":2,")) << json;
    ::testing::internal::CaptureStderr();
    destroy_default_strategy(s);
    EXPECT_EQ(4u, Lines(::testing::internal::GetCapturedStderr()).size());
}

TEST(LeakReport, WithoutTrackingOnlyTheSummary) {
    RecordingBackend backend;
    DefaultStrategyConfig config = backend.Config();
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    ASSERT_NE(nullptr, STRATEGY_ALLOCATE(&s->base, 600));  // exactly default_allocate
    EXPECT_EQ("<failed>", Printed([&](std::FILE* f) { return print_leak_report(s, f); }));
    EXPECT_EQ("{\"tracking\":false,\"live_bytes\":0,\"live_blocks\":0,\"sites\":[]}\n",
              Printed([&](std::FILE* f) { return print_leak_report_json(s, f); }));
    EXPECT_FALSE(print_leak_report(nullptr, stdout));
    EXPECT_FALSE(print_leak_report_json(s, nullptr));
    EXPECT_EQ(nullptr, default_allocate_at(nullptr, 10, __FILE__, __LINE__));
    ::testing::internal::CaptureStderr();
    destroy_default_strategy(s);
    EXPECT_EQ("memstrategy: leak: 600 bytes in 1 blocks still allocated at destroy\n",
              ::testing::internal::GetCapturedStderr());
}

TEST(LeakReport, ThreadsTrackConcurrently) {
    constexpr int kEach = static_cast<int>(mstest::Scaled(2000, 200));
    RecordingBackend backend;
    DefaultStrategyConfig config = TrackingConfig(&backend);
    DefaultStrategy* s = create_default_strategy_with(&config);
    ASSERT_NE(nullptr, s);
    mstest::Barrier start(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
        threads.emplace_back([&, t] {
            start.Wait();
            std::vector<void*> held;
            for (int i = 0; i < kEach; i++) {
                held.push_back(STRATEGY_ALLOCATE(&s->base, 8 + static_cast<size_t>(t)));
                if (i % 2 == 1) {
                    s->base.deallocate(&s->base, held.back());
                    held.pop_back();
                }
            }
            for (size_t i = 1; i < held.size(); i++) s->base.deallocate(&s->base, held[i]);  // one left
        });
    }
    for (auto& th : threads) th.join();
    const std::string json = Printed([&](std::FILE* f) { return print_leak_report_json(s, f); });
    EXPECT_EQ(0u, json.find("{\"tracking\":true,\"live_bytes\":38,\"live_blocks\":4,")) << json;
    ::testing::internal::CaptureStderr();
    destroy_default_strategy(s);
    const std::vector<std::string> lines = Lines(::testing::internal::GetCapturedStderr());
    ASSERT_EQ(6u, lines.size());  // the summary, the one site, its four blocks
    EXPECT_EQ("memstrategy: leak: 38 bytes in 4 blocks still allocated at destroy", lines[0]);
    EXPECT_TRUE(StartsWith(lines[1], "memstrategy: leak: 38 bytes in 4 blocks allocated at ")) << lines[1];
    EXPECT_TRUE(StartsWith(lines[2], "    11 bytes at ")) << lines[2];
    EXPECT_TRUE(StartsWith(lines[5], "    8 bytes at ")) << lines[5];
}

}  // namespace
