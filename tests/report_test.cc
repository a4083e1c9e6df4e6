// Tests of the printers (strategy_report.h): each output is parsed back (the
// human report line by line, JSON with a small strict parser written here,
// Prometheus with a regular expression per line of the text exposition
// format) and compared with default_strategy_snapshot; write errors and NULL
// arguments; printing while other threads operate.
#include "strategy_report.h"

#include <gtest/gtest.h>

#include <stdio.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.h"

namespace {

using mstest::ErrorRecorder;
using mstest::Scaled;

// ---- a strict JSON parser (RFC 8259) ---------------------------------------------------------

struct Json {
    enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
    Type type = Type::kNull;
    bool boolean = false;
    std::string text;  // a number's literal, or a string's decoded value
    std::vector<Json> array;
    std::vector<std::pair<std::string, Json>> object;

    const Json* Find(const std::string& key) const {
        for (const auto& member : object) {
            if (member.first == key) return &member.second;
        }
        return nullptr;
    }
};

class JsonParser {
  public:
    // Parses `text` as exactly one value with optional whitespace around it.
    // False on any deviation from the grammar, and on duplicate keys.
    static bool Parse(const std::string& text, Json* out) {
        JsonParser p(text);
        p.SkipSpace();
        if (!p.Value(out, 0)) return false;
        p.SkipSpace();
        return p.pos_ == text.size();
    }

  private:
    explicit JsonParser(const std::string& text) : s_(text) {}

    bool AtEnd() const { return pos_ >= s_.size(); }
    char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
    bool Eat(char c) {
        if (Peek() != c || AtEnd()) return false;
        pos_++;
        return true;
    }
    void SkipSpace() {
        while (!AtEnd() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) pos_++;
    }

    bool Value(Json* out, int depth) {
        if (depth > 64) return false;
        switch (Peek()) {
        case '{': return Object(out, depth);
        case '[': return Array(out, depth);
        case '"': out->type = Json::Type::kString; return String(&out->text);
        case 't': out->type = Json::Type::kBool; out->boolean = true; return Literal("true");
        case 'f': out->type = Json::Type::kBool; out->boolean = false; return Literal("false");
        case 'n': out->type = Json::Type::kNull; return Literal("null");
        default: out->type = Json::Type::kNumber; return Number(&out->text);
        }
    }

    bool Literal(const char* word) {
        size_t n = std::strlen(word);
        if (s_.compare(pos_, n, word) != 0) return false;
        pos_ += n;
        return true;
    }

    bool Object(Json* out, int depth) {
        out->type = Json::Type::kObject;
        Eat('{');
        SkipSpace();
        if (Eat('}')) return true;
        std::set<std::string> keys;
        for (;;) {
            SkipSpace();
            std::string key;
            if (Peek() != '"' || !String(&key) || !keys.insert(key).second) return false;
            SkipSpace();
            if (!Eat(':')) return false;
            SkipSpace();
            Json value;
            if (!Value(&value, depth + 1)) return false;
            out->object.emplace_back(key, value);
            SkipSpace();
            if (Eat('}')) return true;
            if (!Eat(',')) return false;
        }
    }

    bool Array(Json* out, int depth) {
        out->type = Json::Type::kArray;
        Eat('[');
        SkipSpace();
        if (Eat(']')) return true;
        for (;;) {
            SkipSpace();
            Json value;
            if (!Value(&value, depth + 1)) return false;
            out->array.push_back(value);
            SkipSpace();
            if (Eat(']')) return true;
            if (!Eat(',')) return false;
        }
    }

    bool Digits() {
        size_t start = pos_;
        while (!AtEnd() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
        return pos_ > start;
    }

    bool Number(std::string* literal) {
        size_t start = pos_;
        Eat('-');
        if (Eat('0')) {
            if (!AtEnd() && s_[pos_] >= '0' && s_[pos_] <= '9') return false;  // no leading zeros
        } else if (!Digits()) {
            return false;
        }
        if (Eat('.') && !Digits()) return false;
        if (Peek() == 'e' || Peek() == 'E') {
            pos_++;
            if (!Eat('+')) Eat('-');
            if (!Digits()) return false;
        }
        *literal = s_.substr(start, pos_ - start);
        return true;
    }

    bool Hex4(unsigned* value) {
        if (pos_ + 4 > s_.size()) return false;
        *value = 0;
        for (int i = 0; i < 4; i++) {
            char c = s_[pos_++];
            unsigned digit;
            if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A' + 10);
            else return false;
            *value = *value * 16 + digit;
        }
        return true;
    }

    static void AppendUtf8(unsigned cp, std::string* out) {
        if (cp < 0x80) {
            out->push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    bool String(std::string* out) {
        if (!Eat('"')) return false;
        out->clear();
        for (;;) {
            if (AtEnd()) return false;
            unsigned char c = static_cast<unsigned char>(s_[pos_++]);
            if (c == '"') return true;
            if (c < 0x20) return false;  // control characters must be escaped
            if (c != '\\') {
                out->push_back(static_cast<char>(c));
                continue;
            }
            if (AtEnd()) return false;
            char e = s_[pos_++];
            switch (e) {
            case '"': out->push_back('"'); break;
            case '\\': out->push_back('\\'); break;
            case '/': out->push_back('/'); break;
            case 'b': out->push_back('\b'); break;
            case 'f': out->push_back('\f'); break;
            case 'n': out->push_back('\n'); break;
            case 'r': out->push_back('\r'); break;
            case 't': out->push_back('\t'); break;
            case 'u': {
                unsigned cp;
                if (!Hex4(&cp)) return false;
                if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
                    unsigned low;
                    if (!Eat('\\') || !Eat('u') || !Hex4(&low) || low < 0xDC00 || low >= 0xE000) return false;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    return false;
                }
                AppendUtf8(cp, out);
                break;
            }
            default: return false;
            }
        }
    }

    const std::string& s_;
    size_t pos_ = 0;
};

TEST(JsonParserSelfTest, AcceptsValidAndRejectsInvalidDocuments) {
    Json v;
    ASSERT_TRUE(JsonParser::Parse(R"( {"a":[1,-2.5e3,true,false,null],"b":{"c":"x\"\\\/\n\u00e9\ud83d\ude00"}} )", &v));
    ASSERT_EQ(Json::Type::kObject, v.type);
    ASSERT_NE(nullptr, v.Find("a"));
    EXPECT_EQ(5u, v.Find("a")->array.size());
    EXPECT_EQ("-2.5e3", v.Find("a")->array[1].text);
    EXPECT_EQ("x\"\\/\n\xc3\xa9\xf0\x9f\x98\x80", v.Find("b")->Find("c")->text);
    for (const char* bad : {"", "{", "{\"a\":1,}", "{\"a\":01}", "{\"a\" 1}", "{\"a\":1} x", "[1,]",
                            "{\"a\":\"\x01\"}", "{\"a\":\"\\u12\"}", "{\"a\":1,\"a\":2}", "{a:1}", "'x'",
                            "{\"a\":-}", "{\"a\":1.}", "{\"a\":tru}", "\"\\ud800\""}) {
        Json ignored;
        EXPECT_FALSE(JsonParser::Parse(bad, &ignored)) << bad;
    }
}

// ---- helpers -------------------------------------------------------------------------------------

struct Destroy {
    void operator()(DefaultStrategy* s) const { destroy_default_strategy(s); }
};
using Strategy = std::unique_ptr<DefaultStrategy, Destroy>;

// Runs a printer on an in-memory stream; returns what it wrote.
std::string Capture(const std::function<bool(FILE*)>& print, bool* ok) {
    char* buffer = nullptr;
    size_t size = 0;
    FILE* f = open_memstream(&buffer, &size);
    EXPECT_NE(nullptr, f);
    if (f == nullptr) return "";
    *ok = print(f);
    std::fclose(f);
    std::string text(buffer, size);
    std::free(buffer);
    return text;
}

std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

uint64_t ToU64(const std::string& digits) { return std::strtoull(digits.c_str(), nullptr, 10); }

StrategyStats Stats(const DefaultStrategy* s) {
    StrategyStats st;
    std::memset(&st, 0, sizeof st);
    EXPECT_TRUE(default_strategy_snapshot(s, &st));
    return st;
}

// strategy_error_name with spaces as underscores: the kinds the printers list.
std::map<std::string, StrategyError> ListedErrorKinds() {
    std::map<std::string, StrategyError> kinds;
    for (int e = 0; e < STRATEGY_ERROR_COUNT; e++) {
        auto kind = static_cast<StrategyError>(e);
        if (kind == STRATEGY_OK || kind == STRATEGY_ERROR_LEAK) continue;
        std::string name = strategy_error_name(kind);
        for (char& c : name) {
            if (c == ' ') c = '_';
        }
        kinds[name] = kind;
    }
    return kinds;
}

// A strategy with some history: live blocks, a peak, a limit and errors of
// two kinds.  Nothing else runs on it, so its figures are exact.
class ReportTest : public ::testing::Test {
  protected:
    void SetUp() override {
        DefaultStrategyConfig config = mstest::ConfigWithRecorder(&errors_);
        config.memory_limit = 65536;
        config.name = "net";
        s_.reset(create_default_strategy_with(&config));
        ASSERT_NE(nullptr, s_);
        MemoryStrategy* b = &s_->base;
        void* big = b->allocate(b, 4000);
        for (size_t size : {512, 1024, 100}) blocks_.push_back(b->allocate(b, size));
        blocks_.push_back(b->allocate_aligned(b, 256, 300));
        b->deallocate(b, big);
        EXPECT_EQ(nullptr, b->allocate(b, 100000));  // limit exceeded
        EXPECT_EQ(nullptr, b->allocate(b, 70000));   // limit exceeded
        EXPECT_EQ(nullptr, b->allocate(b, 0));       // invalid size
        for (void* p : blocks_) ASSERT_NE(nullptr, p);
    }
    void TearDown() override {
        for (void* p : blocks_) s_->base.deallocate(&s_->base, p);
    }

    ErrorRecorder errors_;
    Strategy s_;
    std::vector<void*> blocks_;
};

// ---- human-readable ----------------------------------------------------------------------------------

TEST_F(ReportTest, HumanReportShowsEveryFigure) {
    bool ok = false;
    std::string text = Capture([&](FILE* f) { return print_strategy_report(s_.get(), f); }, &ok);
    ASSERT_TRUE(ok);
    StrategyStats st = Stats(s_.get());
    std::vector<std::string> lines = Lines(text);
    ASSERT_EQ(7u, lines.size()) << text;
    std::smatch m;
    EXPECT_EQ("memstrategy \"net\" (active)", lines[0]);
    ASSERT_TRUE(std::regex_match(lines[1], m, std::regex(R"(  current usage +(\d+) bytes in (\d+) blocks)")));
    EXPECT_EQ(st.usage.current_bytes, ToU64(m[1]));
    EXPECT_EQ(1936u, ToU64(m[1]));
    EXPECT_EQ(st.usage.live_blocks, ToU64(m[2]));
    ASSERT_TRUE(std::regex_match(lines[2], m, std::regex(R"(  peak usage +(\d+) bytes \(over-report bound (\d+)\))")));
    EXPECT_EQ(st.usage.peak_bytes, ToU64(m[1]));
    EXPECT_EQ(st.usage.peak_overreport_bound, ToU64(m[2]));
    ASSERT_TRUE(std::regex_match(lines[3], m, std::regex(R"(  total allocated +(\d+) bytes in (\d+) allocations)")));
    EXPECT_EQ(st.usage.total_allocated_bytes, ToU64(m[1]));
    EXPECT_EQ(st.usage.allocations, ToU64(m[2]));
    ASSERT_TRUE(std::regex_match(lines[4], m, std::regex(R"(  total freed +(\d+) bytes in (\d+) deallocations)")));
    EXPECT_EQ(st.usage.total_freed_bytes, ToU64(m[1]));
    EXPECT_EQ(st.usage.deallocations, ToU64(m[2]));
    ASSERT_TRUE(std::regex_match(lines[5], m, std::regex(R"(  memory limit +(\d+) bytes)")));
    EXPECT_EQ(65536u, ToU64(m[1]));
    ASSERT_TRUE(std::regex_match(lines[6], m, std::regex(R"(  errors +(\d+) \((.*)\); last: (.*))")));
    EXPECT_EQ(3u, ToU64(m[1]));
    EXPECT_EQ("invalid size 1, limit exceeded 2", m[2].str());
    EXPECT_EQ(strategy_error_name(st.last_error), m[3].str());
    // Each column starts at the same place.
    for (size_t i = 1; i < lines.size(); i++) {
        EXPECT_NE(' ', lines[i][20]) << lines[i];
        EXPECT_EQ(' ', lines[i][19]) << lines[i];
    }
}

TEST(HumanReport, UnnamedUnlimitedWithoutErrors) {
    Strategy s(create_default_strategy());
    ASSERT_NE(nullptr, s);
    bool ok = false;
    std::vector<std::string> lines = Lines(Capture([&](FILE* f) { return print_strategy_report(s.get(), f); }, &ok));
    ASSERT_TRUE(ok);
    ASSERT_EQ(7u, lines.size());
    EXPECT_EQ("memstrategy (active)", lines[0]);
    EXPECT_EQ("  current usage     0 bytes in 0 blocks", lines[1]);
    EXPECT_EQ("  memory limit      none", lines[5]);
    EXPECT_EQ("  errors            none", lines[6]);
}

// ---- JSON --------------------------------------------------------------------------------------------

void CheckJsonMatches(const Json& v, const DefaultStrategy* s) {
    StrategyStats st = Stats(s);
    ASSERT_EQ(Json::Type::kObject, v.type);
    const std::map<std::string, uint64_t> numbers = {
        {"current_bytes", st.usage.current_bytes},
        {"peak_bytes", st.usage.peak_bytes},
        {"peak_overreport_bound_bytes", st.usage.peak_overreport_bound},
        {"total_allocated_bytes", st.usage.total_allocated_bytes},
        {"total_freed_bytes", st.usage.total_freed_bytes},
        {"allocations", st.usage.allocations},
        {"deallocations", st.usage.deallocations},
        {"live_blocks", st.usage.live_blocks},
        {"memory_limit_bytes", st.memory_limit},
    };
    std::set<std::string> keys;
    for (const auto& member : v.object) keys.insert(member.first);
    std::set<std::string> expected_keys = {"name", "status", "last_error", "errors"};
    for (const auto& n : numbers) expected_keys.insert(n.first);
    EXPECT_EQ(expected_keys, keys);
    for (const auto& n : numbers) {
        const Json* value = v.Find(n.first);
        ASSERT_NE(nullptr, value) << n.first;
        ASSERT_EQ(Json::Type::kNumber, value->type) << n.first;
        EXPECT_EQ(std::to_string(n.second), value->text) << n.first;
    }
    ASSERT_EQ(Json::Type::kString, v.Find("name")->type);
    EXPECT_EQ(get_strategy_name(s), v.Find("name")->text);
    EXPECT_EQ(strategy_status_name(st.status), v.Find("status")->text);
    const Json* errors = v.Find("errors");
    ASSERT_EQ(Json::Type::kObject, errors->type);
    auto kinds = ListedErrorKinds();
    EXPECT_EQ(kinds.size(), errors->object.size());
    for (const auto& kind : kinds) {
        const Json* count = errors->Find(kind.first);
        ASSERT_NE(nullptr, count) << kind.first;
        EXPECT_EQ(std::to_string(st.errors[kind.second]), count->text) << kind.first;
    }
    std::string last = strategy_error_name(st.last_error);
    for (char& c : last) {
        if (c == ' ') c = '_';
    }
    EXPECT_EQ(last, v.Find("last_error")->text);
}

TEST_F(ReportTest, JsonParsesBackToTheSnapshot) {
    bool ok = false;
    std::string text = Capture([&](FILE* f) { return print_strategy_json(s_.get(), f); }, &ok);
    ASSERT_TRUE(ok);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ('\n', text.back());
    EXPECT_EQ(text.size() - 1, text.find('\n'));  // one line
    Json v;
    ASSERT_TRUE(JsonParser::Parse(text, &v)) << text;
    CheckJsonMatches(v, s_.get());
    EXPECT_EQ("2", v.Find("errors")->Find("limit_exceeded")->text);
    EXPECT_EQ("65536", v.Find("memory_limit_bytes")->text);
}

TEST(JsonReport, NamesAreEscaped) {
    const std::string name = "we\"ird\\name\n\t\x01\x1f \xc3\xa9/";
    DefaultStrategyConfig config{};
    config.name = name.c_str();
    Strategy s(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, s);
    bool ok = false;
    std::string text = Capture([&](FILE* f) { return print_strategy_json(s.get(), f); }, &ok);
    ASSERT_TRUE(ok);
    Json v;
    ASSERT_TRUE(JsonParser::Parse(text, &v)) << text;
    EXPECT_EQ(name, v.Find("name")->text);
    CheckJsonMatches(v, s.get());
    EXPECT_EQ("0", v.Find("memory_limit_bytes")->text);
}

// ---- Prometheus --------------------------------------------------------------------------------------

struct Sample {
    std::string metric;
    std::map<std::string, std::string> labels;  // unescaped values
    std::string value;
};

struct Exposition {
    std::vector<std::string> families;       // in order of their # TYPE lines
    std::map<std::string, std::string> types;
    std::map<std::string, std::string> helps;
    std::vector<Sample> samples;
};

std::string UnescapeLabel(const std::string& escaped) {
    std::string out;
    for (size_t i = 0; i < escaped.size(); i++) {
        if (escaped[i] == '\\' && i + 1 < escaped.size()) {
            char e = escaped[++i];
            out.push_back(e == 'n' ? '\n' : e);
        } else {
            out.push_back(escaped[i]);
        }
    }
    return out;
}

// Checks every line against the text exposition format (0.0.4): # HELP and
// # TYPE once per family, before its samples; samples of a family together;
// metric and label names, escaped label values, and the value grammar.
Exposition ParseExposition(const std::string& text) {
    static const std::string kName = "[a-zA-Z_:][a-zA-Z0-9_:]*";
    static const std::string kLabel = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"";
    static const std::string kValue = "[-+]?(?:[0-9]+(?:\\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|Inf|NaN)";
    static const std::regex help("# HELP (" + kName + ") ((?:[^\\\\\\n]|\\\\[\\\\n])*)");
    static const std::regex type("# TYPE (" + kName + ") (counter|gauge|histogram|summary|untyped)");
    static const std::regex sample("(" + kName + ")(?:\\{((?:" + kLabel + ")(?:," + kLabel + ")*)?\\})? (" + kValue +
                                   ")(?: -?[0-9]+)?");
    static const std::regex label("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)\"");
    Exposition e;
    EXPECT_TRUE(text.empty() || text.back() == '\n');
    std::set<std::string> finished;  // families whose samples are over
    std::string current;
    for (const std::string& line : Lines(text)) {
        std::smatch m;
        if (std::regex_match(line, m, help)) {
            EXPECT_EQ(0u, e.helps.count(m[1])) << "second # HELP: " << line;
            EXPECT_EQ(0u, e.types.count(m[1])) << "# HELP after # TYPE: " << line;
            e.helps[m[1]] = m[2];
        } else if (std::regex_match(line, m, type)) {
            EXPECT_EQ(0u, e.types.count(m[1])) << "second # TYPE: " << line;
            e.types[m[1]] = m[2];
            e.families.push_back(m[1]);
            if (!current.empty()) finished.insert(current);
            current = m[1];
        } else if (std::regex_match(line, m, sample)) {
            Sample s;
            s.metric = m[1];
            s.value = m[3];
            std::string labels = m[2];
            for (std::sregex_iterator it(labels.begin(), labels.end(), label), end; it != end; ++it) {
                EXPECT_EQ(0u, s.labels.count((*it)[1])) << "label twice: " << line;
                s.labels[(*it)[1]] = UnescapeLabel((*it)[2]);
            }
            EXPECT_EQ(current, s.metric) << "sample outside its family: " << line;
            EXPECT_EQ(0u, finished.count(s.metric)) << "family resumed: " << line;
            e.samples.push_back(s);
        } else {
            ADD_FAILURE() << "not a line of the exposition format: [" << line << "]";
        }
    }
    for (const auto& t : e.types) EXPECT_EQ(1u, e.helps.count(t.first)) << "no # HELP for " << t.first;
    return e;
}

const std::map<std::string, std::string> kFamilyTypes = {
    {"memstrategy_current_bytes", "gauge"},          {"memstrategy_peak_bytes", "gauge"},
    {"memstrategy_peak_overreport_bytes", "gauge"},  {"memstrategy_allocated_bytes_total", "counter"},
    {"memstrategy_freed_bytes_total", "counter"},    {"memstrategy_allocations_total", "counter"},
    {"memstrategy_deallocations_total", "counter"},  {"memstrategy_live_blocks", "gauge"},
    {"memstrategy_limit_bytes", "gauge"},            {"memstrategy_errors_total", "counter"},
};

uint64_t Figure(const StrategyStats& st, const std::string& metric) {
    if (metric == "memstrategy_current_bytes") return st.usage.current_bytes;
    if (metric == "memstrategy_peak_bytes") return st.usage.peak_bytes;
    if (metric == "memstrategy_peak_overreport_bytes") return st.usage.peak_overreport_bound;
    if (metric == "memstrategy_allocated_bytes_total") return st.usage.total_allocated_bytes;
    if (metric == "memstrategy_freed_bytes_total") return st.usage.total_freed_bytes;
    if (metric == "memstrategy_allocations_total") return st.usage.allocations;
    if (metric == "memstrategy_deallocations_total") return st.usage.deallocations;
    if (metric == "memstrategy_live_blocks") return st.usage.live_blocks;
    if (metric == "memstrategy_limit_bytes") return st.memory_limit;
    ADD_FAILURE() << "unexpected metric " << metric;
    return 0;
}

// Every family once with its documented type; one sample per strategy (and
// per error kind) whose value is the strategy's figure.
void CheckExposition(const Exposition& e, const std::vector<const DefaultStrategy*>& strategies) {
    std::map<std::string, std::string> types(e.types.begin(), e.types.end());
    EXPECT_EQ(kFamilyTypes, types);
    auto kinds = ListedErrorKinds();
    std::map<std::string, size_t> per_metric;
    for (const Sample& s : e.samples) per_metric[s.metric]++;
    for (const auto& family : kFamilyTypes) {
        size_t expected = strategies.size() * (family.first == "memstrategy_errors_total" ? kinds.size() : 1);
        EXPECT_EQ(expected, per_metric[family.first]) << family.first;
    }
    for (const DefaultStrategy* strategy : strategies) {
        StrategyStats st = Stats(strategy);
        const std::string name = get_strategy_name(strategy);
        size_t seen = 0;
        for (const Sample& s : e.samples) {
            if (s.labels.count("name") == 0) {
                ADD_FAILURE() << "sample without a name label: " << s.metric;
                continue;
            }
            if (s.labels.at("name") != name) continue;
            seen++;
            if (s.metric == "memstrategy_errors_total") {
                ASSERT_EQ(2u, s.labels.size());
                ASSERT_EQ(1u, kinds.count(s.labels.at("kind"))) << s.labels.at("kind");
                EXPECT_EQ(std::to_string(st.errors[kinds.at(s.labels.at("kind"))]), s.value);
            } else {
                EXPECT_EQ(1u, s.labels.size()) << s.metric;
                EXPECT_EQ(std::to_string(Figure(st, s.metric)), s.value) << s.metric << " of " << name;
            }
        }
        EXPECT_EQ(kFamilyTypes.size() - 1 + kinds.size(), seen) << name;
    }
}

TEST_F(ReportTest, PrometheusLinesFollowTheExpositionFormat) {
    bool ok = false;
    std::string text = Capture([&](FILE* f) { return print_strategy_prometheus(s_.get(), f); }, &ok);
    ASSERT_TRUE(ok);
    Exposition e = ParseExposition(text);
    CheckExposition(e, {s_.get()});
    // Spot checks against what SetUp did.
    for (const Sample& s : e.samples) {
        if (s.metric == "memstrategy_limit_bytes") {
            EXPECT_EQ("65536", s.value);
        }
        if (s.metric == "memstrategy_current_bytes") {
            EXPECT_EQ("1936", s.value);
        }
        if (s.metric == "memstrategy_errors_total" && s.labels.at("kind") == "limit_exceeded") {
            EXPECT_EQ("2", s.value);
        }
        EXPECT_EQ("net", s.labels.at("name"));
    }
}

TEST(PrometheusReport, SeveralStrategiesShareEachFamilyHeader) {
    DefaultStrategyConfig top{};
    top.name = "app";
    top.memory_limit = 1 << 20;
    Strategy app(create_default_strategy_with(&top));
    ASSERT_NE(nullptr, app);
    DefaultStrategyConfig sub{};
    sub.parent = &app->base;
    sub.name = "db \"primary\"\\\n";  // every character the format escapes
    Strategy db(create_default_strategy_with(&sub));
    sub.name = "net";
    Strategy net(create_default_strategy_with(&sub));
    ASSERT_NE(nullptr, db);
    ASSERT_NE(nullptr, net);
    void* a = default_allocate(&db->base, 300);
    void* b = default_allocate(&net->base, 700);
    const DefaultStrategy* all[] = {app.get(), db.get(), net.get()};
    bool ok = false;
    std::string text = Capture([&](FILE* f) { return print_strategies_prometheus(all, 3, f); }, &ok);
    ASSERT_TRUE(ok);
    Exposition e = ParseExposition(text);
    CheckExposition(e, {app.get(), db.get(), net.get()});
    default_deallocate(&db->base, a);
    default_deallocate(&net->base, b);
    db.reset();
    net.reset();
}

// ---- failures ---------------------------------------------------------------------------------------

// A stream whose writes fail after `budget` bytes.
struct FailingSink {
    size_t budget;
    size_t written = 0;
};
ssize_t FailingWrite(void* cookie, const char* data, size_t size) {
    auto* sink = static_cast<FailingSink*>(cookie);
    (void)data;
    if (sink->written + size > sink->budget) {
        errno = ENOSPC;
        return -1;
    }
    sink->written += size;
    return static_cast<ssize_t>(size);
}
FILE* OpenFailing(FailingSink* sink) {
    cookie_io_functions_t io{};
    io.write = FailingWrite;
    return fopencookie(sink, "w", io);
}

using Printer = bool (*)(const DefaultStrategy*, FILE*);
const Printer kPrinters[] = {print_strategy_report, print_strategy_json, print_strategy_prometheus};

TEST_F(ReportTest, WriteErrorsAreReported) {
    for (Printer print : kPrinters) {
        bool ok = true;
        std::string full = Capture([&](FILE* f) { return print(s_.get(), f); }, &ok);
        ASSERT_TRUE(ok);
        // Fails at the start, in the middle, and one byte short of the end
        // (revealed only by the flush).
        for (size_t budget : {size_t{0}, full.size() / 2, full.size() - 1}) {
            FailingSink sink{budget};
            FILE* f = OpenFailing(&sink);
            ASSERT_NE(nullptr, f);
            EXPECT_FALSE(print(s_.get(), f)) << "budget " << budget;
            std::fclose(f);
        }
        FailingSink enough{full.size()};
        FILE* f = OpenFailing(&enough);
        ASSERT_NE(nullptr, f);
        EXPECT_TRUE(print(s_.get(), f));
        EXPECT_EQ(full.size(), enough.written);
        std::fclose(f);
    }
}

TEST_F(ReportTest, ReadOnlyStreamAndEarlierErrorsFail) {
    for (Printer print : kPrinters) {
        FILE* ro = std::fopen("/dev/null", "r");
        ASSERT_NE(nullptr, ro);
        EXPECT_FALSE(print(s_.get(), ro));
        std::fclose(ro);
        // A stream that already failed: its error indicator stays set.
        FailingSink sink{0};
        FILE* f = OpenFailing(&sink);
        ASSERT_NE(nullptr, f);
        std::fputc('x', f);
        EXPECT_NE(0, std::fflush(f));
        ASSERT_NE(0, std::ferror(f));
        sink.budget = SIZE_MAX;
        EXPECT_FALSE(print(s_.get(), f));
        std::fclose(f);
    }
}

TEST_F(ReportTest, NullArgumentsAreRefused) {
    for (Printer print : kPrinters) {
        bool ok = true;
        std::string text = Capture([&](FILE* f) { return print(nullptr, f); }, &ok);
        EXPECT_FALSE(ok);
        EXPECT_EQ("", text);
        EXPECT_FALSE(print(s_.get(), nullptr));
    }
    bool ok = true;
    const DefaultStrategy* with_null[] = {s_.get(), nullptr};
    EXPECT_EQ("", Capture([&](FILE* f) { return print_strategies_prometheus(with_null, 2, f); }, &ok));
    EXPECT_FALSE(ok);
    EXPECT_EQ("", Capture([&](FILE* f) { return print_strategies_prometheus(nullptr, 1, f); }, &ok));
    EXPECT_FALSE(ok);
    EXPECT_EQ("", Capture([&](FILE* f) { return print_strategies_prometheus(nullptr, 0, f); }, &ok));
    EXPECT_TRUE(ok);
    const DefaultStrategy* one[] = {s_.get()};
    EXPECT_FALSE(print_strategies_prometheus(one, 1, nullptr));
}

// ---- concurrency ------------------------------------------------------------------------------------

TEST(ReportConcurrency, PrintingWhileThreadsOperate) {
    DefaultStrategyConfig config{};
    config.name = "busy";
    Strategy s(create_default_strategy_with(&config));
    ASSERT_NE(nullptr, s);
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (size_t t = 0; t < Scaled(3, 2); t++) {
        workers.emplace_back([&, t] {
            mstest::Rng rng(t);
            std::vector<void*> held;
            MemoryStrategy* b = &s->base;
            while (!stop.load(std::memory_order_acquire)) {
                if (held.size() < 32 && rng.Below(2) == 0) {
                    held.push_back(b->allocate(b, 1 + rng.Below(1000)));
                } else if (!held.empty()) {
                    b->deallocate(b, held.back());
                    held.pop_back();
                }
            }
            for (void* p : held) b->deallocate(b, p);
        });
    }
    for (size_t round = 0; round < Scaled(200, 40); round++) {
        bool ok = false;
        std::string json = Capture([&](FILE* f) { return print_strategy_json(s.get(), f); }, &ok);
        ASSERT_TRUE(ok);
        Json v;
        ASSERT_TRUE(JsonParser::Parse(json, &v)) << json;
        EXPECT_LE(ToU64(v.Find("current_bytes")->text), ToU64(v.Find("total_allocated_bytes")->text));
        std::string prom = Capture([&](FILE* f) { return print_strategy_prometheus(s.get(), f); }, &ok);
        ASSERT_TRUE(ok);
        EXPECT_EQ(kFamilyTypes.size(), ParseExposition(prom).types.size());
        Capture([&](FILE* f) { return print_strategy_report(s.get(), f); }, &ok);
        ASSERT_TRUE(ok);
    }
    stop.store(true, std::memory_order_release);
    for (auto& w : workers) w.join();
    bool ok = false;
    std::string json = Capture([&](FILE* f) { return print_strategy_json(s.get(), f); }, &ok);
    Json v;
    ASSERT_TRUE(JsonParser::Parse(json, &v));
    CheckJsonMatches(v, s.get());
    EXPECT_EQ("0", v.Find("current_bytes")->text);
}

// ---- the size histogram (config.size_histogram) --------------------------------------------

Strategy MakeHistogram() {
    DefaultStrategyConfig config;
    std::memset(&config, 0, sizeof config);
    config.size_histogram = true;
    config.name = "sized";
    return Strategy(create_default_strategy_with(&config));
}

TEST(SizeHistogram, CountsEachAllocationInItsPowerOfTwoClass) {
    Strategy s = MakeHistogram();
    ASSERT_NE(nullptr, s);
    MemoryStrategy* b = &s->base;
    const size_t sizes[] = {1, 16, 31, 32, 1000, 1023, 1024, 65536};
    std::vector<void*> blocks;
    for (size_t size : sizes) blocks.push_back(b->allocate(b, size));
    void* grown = default_reallocate(b, b->allocate(b, 8), 100);  // 8 (class 3), then 100 (class 6)
    ASSERT_NE(nullptr, grown);
    blocks.push_back(grown);
    EXPECT_EQ(nullptr, b->allocate(b, 0));  // refused: not counted
    StrategyStats st = Stats(s.get());
    ASSERT_TRUE(st.size_histogram);
    uint64_t expected[STRATEGY_SIZE_CLASSES] = {0};
    expected[0] = 1;   // 1
    expected[3] = 1;   // 8
    expected[4] = 2;   // 16, 31
    expected[5] = 1;   // 32
    expected[6] = 1;   // 100
    expected[9] = 2;   // 1000, 1023
    expected[10] = 1;  // 1024
    expected[16] = 1;  // 65536
    for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) EXPECT_EQ(expected[k], st.size_classes[k]) << k;
    for (void* p : blocks) b->deallocate(b, p);
}

TEST(SizeHistogram, ThreadsAddUpAndOffMeansZero) {
    Strategy s = MakeHistogram();
    ASSERT_NE(nullptr, s);
    const size_t per_thread = mstest::Scaled(2000, 400);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < 4; t++) {
        threads.emplace_back([&, t] {
            MemoryStrategy* b = &s->base;
            for (size_t i = 0; i < per_thread; i++) b->deallocate(b, b->allocate(b, 64 << t));
        });
    }
    for (auto& t : threads) t.join();
    StrategyStats st = Stats(s.get());
    for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) {
        EXPECT_EQ((k >= 6 && k <= 9) ? per_thread : 0u, st.size_classes[k]) << k;
    }
    Strategy plain(create_default_strategy());
    void* p = plain->base.allocate(&plain->base, 64);
    StrategyStats off = Stats(plain.get());
    EXPECT_FALSE(off.size_histogram);
    for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) EXPECT_EQ(0u, off.size_classes[k]);
    plain->base.deallocate(&plain->base, p);
}

TEST(SizeHistogram, PrintersShowIt) {
    Strategy s = MakeHistogram();
    ASSERT_NE(nullptr, s);
    MemoryStrategy* b = &s->base;
    void* small = b->allocate(b, 20);   // class 4 (16-31)
    void* large = b->allocate(b, 300);  // class 8 (256-511)
    bool ok = false;
    std::string json = Capture([&](FILE* f) { return print_strategy_json(s.get(), f); }, &ok);
    ASSERT_TRUE(ok);
    Json v;
    ASSERT_TRUE(JsonParser::Parse(json, &v)) << json;
    const Json* classes = v.Find("size_classes");
    ASSERT_NE(nullptr, classes) << json;
    ASSERT_EQ(Json::Type::kArray, classes->type);
    ASSERT_EQ(size_t{STRATEGY_SIZE_CLASSES}, classes->array.size());
    for (unsigned k = 0; k < STRATEGY_SIZE_CLASSES; k++) {
        EXPECT_EQ((k == 4 || k == 8) ? "1" : "0", classes->array[k].text) << k;
    }
    std::string prom = Capture([&](FILE* f) { return print_strategy_prometheus(s.get(), f); }, &ok);
    ASSERT_TRUE(ok);
    EXPECT_NE(std::string::npos, prom.find("# TYPE memstrategy_allocation_size_bytes histogram\n")) << prom;
    EXPECT_NE(std::string::npos, prom.find("memstrategy_allocation_size_bytes_bucket{name=\"sized\",le=\"31\"} 1\n"));
    EXPECT_NE(std::string::npos, prom.find("memstrategy_allocation_size_bytes_bucket{name=\"sized\",le=\"511\"} 2\n"));
    EXPECT_NE(std::string::npos, prom.find("memstrategy_allocation_size_bytes_bucket{name=\"sized\",le=\"+Inf\"} 2\n"));
    EXPECT_NE(std::string::npos, prom.find("memstrategy_allocation_size_bytes_sum{name=\"sized\"} 320\n"));
    EXPECT_NE(std::string::npos, prom.find("memstrategy_allocation_size_bytes_count{name=\"sized\"} 2\n"));
    // Buckets are cumulative and in increasing order of le.
    static const std::regex bucket("memstrategy_allocation_size_bytes_bucket\\{name=\"sized\",le=\"([0-9]+)\"\\} ([0-9]+)");
    uint64_t last_le = 0, last_count = 0;
    for (const std::string& line : Lines(prom)) {
        std::smatch m;
        if (!std::regex_match(line, m, bucket)) continue;
        EXPECT_LT(last_le, ToU64(m[1])) << line;
        EXPECT_LE(last_count, ToU64(m[2])) << line;
        last_le = ToU64(m[1]);
        last_count = ToU64(m[2]);
    }
    EXPECT_EQ(2u, last_count);
    std::string text = Capture([&](FILE* f) { return print_strategy_report(s.get(), f); }, &ok);
    ASSERT_TRUE(ok);
    EXPECT_NE(std::string::npos, text.find("16-31: 1, 256-511: 1\n")) << text;
    b->deallocate(b, small);
    b->deallocate(b, large);
}

}  // namespace
