# Build rules of the bench suite (bench/README.md), included by the Makefile.
# Same flags as the product: BPF_CFLAGS and CXXFLAGS carry -Wall -Wextra -Werror.

BENCH_DIR  := $(BUILD)/bench
BENCH_BINS := $(BENCH_DIR)/floor_loader $(BENCH_DIR)/udp_blast $(BENCH_DIR)/thread_ring \
              $(BENCH_DIR)/stop_time $(BENCH_DIR)/decompress_only $(BENCH_DIR)/bucket_cost

$(BENCH_DIR):
	mkdir -p $@

$(BENCH_DIR)/floor.bpf.o: bench/floor.bpf.c vmlinux.h | $(BENCH_DIR)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH_DIR)/bucket_cost.bpf.o: bench/bucket_cost.bpf.c bpf/irqlat.h vmlinux.h | $(BENCH_DIR)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH_DIR)/%.skel.h: $(BENCH_DIR)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(BENCH_DIR)/floor_loader: bench/floor_loader.cpp $(BENCH_DIR)/floor.skel.h
	$(CXX) $(CXXFLAGS) $< -o $@ $(LDLIBS)

$(BENCH_DIR)/udp_blast $(BENCH_DIR)/thread_ring $(BENCH_DIR)/stop_time: $(BENCH_DIR)/%: bench/%.cpp | $(BENCH_DIR)
	$(CXX) $(CXXFLAGS) $< -o $@ -lpthread

$(BENCH_DIR)/decompress_only: bench/decompress_only.cpp | $(BENCH_DIR)
	$(CXX) $(CXXFLAGS) $< -o $@ -ldeflate -lzstd

$(BENCH_DIR)/bucket_cost: bench/bucket_cost.cpp $(BENCH_DIR)/bucket_cost.skel.h
	$(CXX) $(CXXFLAGS) $< -o $@ $(LDLIBS)
