// Conformance: the status table in C (state_transition_table,
// state_allows_operation in src/statetracker.c) is the single source of
// truth; the models must state the same machine.  This test prints the C
// table and compares it with the delimited STATUS TABLE blocks of
// models/StrategyLifecycle.pml (Promela, checked by spin) and
// models/StrategyLifecycle.tla (the TLA+ spec).  Any drift fails.
//
// Built from models/BUILD.bazel (target //models:conformance_test), which
// provides the model files as data.

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "memory_strategy.h"
#include "statetracker.h"

namespace {

using Transition = std::pair<std::string, std::string>;

// One status machine: state name -> enum value (-1 when the source has no
// numbers), transitions, and the operations each state allows.
struct Machine {
    std::map<std::string, int> states;
    std::set<Transition> transitions;
    std::map<std::string, std::set<std::string>> allowed;
};

// "shutting down" -> "SHUTTING_DOWN": the models' spelling of a status.
std::string ModelName(const char* c_name) {
    std::string out;
    for (const char* p = c_name; *p != '\0'; ++p) {
        out += *p == ' ' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
    }
    return out;
}

Machine FromC() {
    Machine m;
    for (int s = 0; s < STRATEGY_STATUS_COUNT; ++s) {
        const std::string name = ModelName(strategy_status_name(static_cast<StrategyStatus>(s)));
        m.states[name] = s;
        std::set<std::string>& ops = m.allowed[name];
        for (int op = 0; op < STRATEGY_OP_COUNT; ++op) {
            if (state_allows_operation(static_cast<StrategyStatus>(s), static_cast<StrategyOperation>(op))) {
                ops.insert(strategy_operation_name(static_cast<StrategyOperation>(op)));
            }
        }
    }
    const StateTransition* rows = nullptr;
    const size_t n = state_transition_table(&rows);
    for (size_t i = 0; i < n; ++i) {
        m.transitions.insert({ModelName(strategy_status_name(rows[i].from)),
                              ModelName(strategy_status_name(rows[i].to))});
    }
    return m;
}

// Finds a data file in the test's runfiles.
std::string ReadRunfile(const std::string& path) {
    std::vector<std::string> candidates = {path};
    if (const char* srcdir = std::getenv("TEST_SRCDIR")) {
        const char* ws = std::getenv("TEST_WORKSPACE");
        candidates.push_back(std::string(srcdir) + "/" + (ws != nullptr ? ws : "memstrategy") + "/" + path);
    }
    for (const std::string& candidate : candidates) {
        std::ifstream in(candidate);
        if (in) {
            std::stringstream buffer;
            buffer << in.rdbuf();
            return buffer.str();
        }
    }
    ADD_FAILURE() << "cannot read " << path;
    return "";
}

// The lines between the BEGIN STATUS TABLE and END STATUS TABLE markers.
std::vector<std::string> TableBlock(const std::string& text, const std::string& file) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    int state = 0;  // 0 before, 1 inside, 2 after
    while (std::getline(in, line)) {
        if (line.find("BEGIN STATUS TABLE") != std::string::npos) {
            EXPECT_EQ(state, 0) << file << ": second BEGIN STATUS TABLE";
            state = 1;
        } else if (line.find("END STATUS TABLE") != std::string::npos) {
            EXPECT_EQ(state, 1) << file << ": END STATUS TABLE without BEGIN";
            state = 2;
        } else if (state == 1) {
            lines.push_back(line);
        }
    }
    EXPECT_EQ(state, 2) << file << ": no complete STATUS TABLE block";
    return lines;
}

// Promela: "#define NAME N" for states, "(from == A && to == B)" for
// transitions, "#define ALLOWS_OP(s) (s == A || s == B)" for operations.
Machine FromPromela(const std::string& text) {
    Machine m;
    const std::regex state_re(R"(^#define ([A-Z_]+) ([0-9]+)\s*$)");
    const std::regex transition_re(R"(\(from == ([A-Z_]+) && to == ([A-Z_]+)\))");
    const std::regex allows_re(R"(^#define ALLOWS_([A-Z]+)\(s\) \((.*)\)\s*$)");
    const std::regex operand_re(R"(s == ([A-Z_]+))");
    for (const std::string& line : TableBlock(text, "StrategyLifecycle.pml")) {
        std::smatch match;
        if (std::regex_search(line, match, state_re)) {
            if (match[1] != "NSTATES") m.states[match[1]] = std::stoi(match[2]);
        } else if (std::regex_search(line, match, allows_re)) {
            std::string op = match[1];
            for (char& c : op) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            const std::string operands = match[2];
            for (std::sregex_iterator it(operands.begin(), operands.end(), operand_re), end; it != end; ++it) {
                m.allowed[(*it)[1]].insert(op);
            }
        } else {
            for (std::sregex_iterator it(line.begin(), line.end(), transition_re), end; it != end; ++it) {
                m.transitions.insert({(*it)[1], (*it)[2]});
            }
        }
    }
    for (const auto& state : m.states) m.allowed[state.first];  // states allowing nothing
    return m;
}

// TLA+: States == {"A", ...}; <<"A", "B">> rows; NAME |-> {"op", ...} rows.
Machine FromTla(const std::string& text) {
    Machine m;
    const std::regex quoted_re(R"re("([A-Za-z_]+)")re");
    const std::regex transition_re(R"re(<<"([A-Z_]+)", "([A-Z_]+)">>)re");
    const std::regex allowed_re(R"re(^\s*([A-Z_]+) \|-> \{(.*)\})re");
    for (const std::string& line : TableBlock(text, "StrategyLifecycle.tla")) {
        std::smatch match;
        if (line.rfind("States ==", 0) == 0) {
            for (std::sregex_iterator it(line.begin(), line.end(), quoted_re), end; it != end; ++it) {
                m.states[(*it)[1]] = -1;
            }
        } else if (std::regex_search(line, match, allowed_re)) {
            std::set<std::string>& ops = m.allowed[match[1]];
            const std::string operands = match[2];
            for (std::sregex_iterator it(operands.begin(), operands.end(), quoted_re), end; it != end; ++it) {
                ops.insert((*it)[1]);
            }
        } else {
            for (std::sregex_iterator it(line.begin(), line.end(), transition_re), end; it != end; ++it) {
                m.transitions.insert({(*it)[1], (*it)[2]});
            }
        }
    }
    return m;
}

std::string Describe(const Machine& m) {
    std::ostringstream out;
    out << "  states:";
    for (const auto& s : m.states) out << " " << s.first << (s.second >= 0 ? "=" + std::to_string(s.second) : "");
    out << "\n  transitions:";
    for (const auto& t : m.transitions) out << " " << t.first << "->" << t.second;
    out << "\n  allowed:";
    for (const auto& a : m.allowed) {
        out << " " << a.first << "{";
        const char* sep = "";
        for (const auto& op : a.second) {
            out << sep << op;
            sep = ",";
        }
        out << "}";
    }
    return out.str();
}

std::set<std::string> Names(const Machine& m) {
    std::set<std::string> names;
    for (const auto& s : m.states) names.insert(s.first);
    return names;
}

void ExpectSameMachine(const Machine& c, const Machine& model, const std::string& what, bool numbered) {
    EXPECT_EQ(Names(c), Names(model)) << what << ": states differ from the C enum";
    if (numbered) {
        EXPECT_EQ(c.states, model.states) << what << ": state values differ from the C enum";
    }
    EXPECT_EQ(c.transitions, model.transitions) << what << ": transitions differ from state_transition_table";
    EXPECT_EQ(c.allowed, model.allowed) << what << ": allowed operations differ from state_allows_operation";
    if (::testing::Test::HasFailure()) {
        std::cout << "C:\n" << Describe(c) << "\n" << what << ":\n" << Describe(model) << "\n";
    }
}

TEST(ConformanceTest, CTableIsWellFormed) {
    const Machine c = FromC();
    std::cout << "C status table (src/statetracker.c):\n" << Describe(c) << "\n";
    ASSERT_EQ(c.states.size(), static_cast<size_t>(STRATEGY_STATUS_COUNT));
    EXPECT_FALSE(c.transitions.empty());
    for (const Transition& t : c.transitions) {
        EXPECT_EQ(c.states.count(t.first), 1u) << t.first;
        EXPECT_EQ(c.states.count(t.second), 1u) << t.second;
        EXPECT_NE(t.first, t.second) << "a self-transition";
    }
    // The statuses documented in memory_strategy.h exist under these names.
    for (const char* name : {"INITIALIZING", "ACTIVE", "DEGRADED", "SHUTTING_DOWN", "DESTROYED"}) {
        EXPECT_EQ(c.states.count(name), 1u) << name;
    }
}

TEST(ConformanceTest, PromelaModelMatchesC) {
    const Machine promela = FromPromela(ReadRunfile("models/StrategyLifecycle.pml"));
    ASSERT_FALSE(promela.states.empty()) << "no states parsed from the Promela table";
    ASSERT_FALSE(promela.transitions.empty()) << "no transitions parsed from the Promela table";
    ExpectSameMachine(FromC(), promela, "StrategyLifecycle.pml", /*numbered=*/true);
}

TEST(ConformanceTest, TlaSpecMatchesC) {
    const Machine tla = FromTla(ReadRunfile("models/StrategyLifecycle.tla"));
    ASSERT_FALSE(tla.states.empty()) << "no states parsed from the TLA+ table";
    ASSERT_FALSE(tla.transitions.empty()) << "no transitions parsed from the TLA+ table";
    ExpectSameMachine(FromC(), tla, "StrategyLifecycle.tla", /*numbered=*/false);
}

// The parsers themselves notice drift (so a green run is not vacuous).
TEST(ConformanceTest, ParsersSeeADriftedTable) {
    std::string pml = ReadRunfile("models/StrategyLifecycle.pml");
    const std::string row = "(from == DEGRADED && to == SHUTTING_DOWN)";
    const size_t at = pml.find(row);
    ASSERT_NE(at, std::string::npos);
    pml.replace(at, row.size(), "(from == DEGRADED && to == ACTIVE)");
    EXPECT_NE(FromC().transitions, FromPromela(pml).transitions);

    std::string tla = ReadRunfile("models/StrategyLifecycle.tla");
    const std::string allowed = "DEGRADED |-> {\"deallocate\", \"read\"}";
    const size_t pos = tla.find(allowed);
    ASSERT_NE(pos, std::string::npos);
    tla.replace(pos, allowed.size(), "DEGRADED |-> {\"allocate\", \"deallocate\", \"read\"}");
    EXPECT_NE(FromC().allowed, FromTla(tla).allowed);
}

}  // namespace
