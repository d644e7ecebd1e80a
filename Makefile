# irqlat build. `make` builds everything into build/; `make test` and
# `make demo` first install the Debian packages they need (`make deps`).

BUILD      ?= build
CLANG      ?= clang
BPFTOOL    ?= bpftool
CXX        ?= g++
GO         ?= go
ARCH_INC   := /usr/include/$(shell uname -m)-linux-gnu

BPF_CFLAGS := -target bpf -mcpu=v3 -g -O2 -Wall -Wextra -Werror -Wno-unused-parameter \
              -D__TARGET_ARCH_x86 -I. -Ibpf -I$(ARCH_INC)
CXXFLAGS   ?= -O2 -g
CXXFLAGS   += -std=c++20 -Wall -Wextra -Werror -I. -Iuser -Iloader -Iinclude -I$(BUILD)
LDLIBS     := -lbpf -lelf -lz -lfmt -lpthread
SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

DEB_PACKAGES := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config \
                libcli11-dev nlohmann-json3-dev libfmt-dev libcpp-httplib-dev catch2 \
                systemtap-sdt-dev golang-go python3 python3-pytest linux-perf \
                stress-ng rt-tests bpftrace util-linux iproute2

USER_SRCS   := $(filter-out user/main.cpp,$(wildcard user/*.cpp)) $(wildcard loader/*.cpp)
USER_OBJS   := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(USER_SRCS))
UNIT_SRCS   := $(wildcard tests/unit/*.cpp)
# Unit tests run under ASan+UBSan: every collector source is rebuilt with them.
SAN_OBJS    := $(patsubst %.cpp,$(BUILD)/san/%.o,$(USER_SRCS) $(UNIT_SRCS))
EXAMPLES    := $(BUILD)/cancel_loop $(BUILD)/gocancel
TARGETS_BIN := $(patsubst tests/targets/%.cpp,$(BUILD)/targets/%,$(wildcard tests/targets/*.cpp))

.PHONY: all deps test unit integration demo bench clean
all: $(BUILD)/irqlat $(EXAMPLES) $(TARGETS_BIN)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BUILD)/irqlat.bpf.o: bpf/irqlat.bpf.c bpf/irqlat.h bpf/compat.bpf.h vmlinux.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.cpp $(BUILD)/irqlat.skel.h $(wildcard user/*.h loader/*.h bpf/irqlat.h)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.cpp $(BUILD)/irqlat.skel.h $(wildcard user/*.h loader/*.h bpf/irqlat.h)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/irqlat: $(BUILD)/obj/user/main.o $(USER_OBJS)
	$(CXX) $(CXXFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/unit_tests: $(SAN_OBJS)
	$(CXX) $(CXXFLAGS) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/cancel_loop: examples/cancel_loop.cpp include/irqlat/probes.h include/irqlat/example_util.h | $(BUILD)
	$(CXX) $(CXXFLAGS) -O2 $< -o $@ -lpthread

$(BUILD)/gocancel: $(wildcard examples/gocancel/*.go) | $(BUILD)
	cd examples/gocancel && GOCACHE=$(abspath $(BUILD))/gocache GOFLAGS=-mod=mod \
	  $(GO) build -o $(abspath $@) .

$(BUILD)/targets/%: tests/targets/%.cpp include/irqlat/probes.h include/irqlat/example_util.h
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -O2 $< -o $@ -lpthread

$(BUILD):
	mkdir -p $@

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests

test: deps all $(BUILD)/unit_tests
	tests/run_all.sh $(BUILD)

demo: deps all
	examples/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD)
