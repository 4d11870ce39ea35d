# cloudlet-ids: the intrusion detection sensor (included by the top-level
# Makefile). docs/ids.md.
IDS_CFLAGS := $(shell pkg-config --cflags libhs libpcre2-8 libpcap 2>/dev/null)
IDS_LIBS   := $(shell pkg-config --libs libhs libpcre2-8 libpcap libseccomp 2>/dev/null) -lm
# Everything but main: the unit tests and the fuzzers link these.
IDS_SRC = src/ids/addr.c src/ids/rule.c src/ids/rulekw.c src/ids/ruleset.c src/ids/mpm.c src/ids/match.c \
          src/ids/detect.c src/ids/detect_build.c src/ids/detect_aidx.c src/ids/detect_thresh.c \
          src/ids/decode.c src/ids/stream.c src/ids/flow.c src/ids/http.c \
          src/ids/dns.c src/ids/tls.c src/ids/portscan.c src/ids/spoof.c src/ids/gate.c \
          src/ids/eve.c src/ids/netcfg.c src/ids/sensor.c src/ids/capture.c \
          src/ids/control.c src/ids/serve.c src/ids/build.c
IDS_OBJ = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(IDS_SRC))

$(IDS_OBJ) $(BUILD)/obj/ids/ids.o: CPPFLAGS += -Isrc/ids $(IDS_CFLAGS)

$(BUILD)/bin/cloudlet-ids: $(BUILD)/obj/ids/ids.o $(IDS_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALLFLAGS) -o $@ $^ $(IDS_LIBS) $(LIBS)

# The test helper that hands a capture socket to `cloudlet-ids serve`
# (root: it opens AF_PACKET sockets in network namespaces).
$(BUILD)/bin/ids-handoff: tests/ids/handoff.c $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CPPFLAGS) $(ALLFLAGS) -o $@ $< $(COMMON_OBJ) $(LIBS)

# A pcap writer for the benchmark's traffic mix and the replay tests.
$(BUILD)/bin/ids-mkpcap: tests/ids/mkpcap.c
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALLFLAGS) -o $@ $<

all: $(BUILD)/bin/cloudlet-ids $(BUILD)/bin/ids-handoff $(BUILD)/bin/ids-mkpcap

# Unit tests of the sensor (cmocka), linked against its objects.
IDS_UNIT = $(patsubst tests/unit/ids/%.c,$(BUILD)/tests/ids/%,$(wildcard tests/unit/ids/test_*.c))

$(IDS_UNIT): $(BUILD)/tests/ids/%: tests/unit/ids/%.c $(IDS_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Isrc/ids $(IDS_CFLAGS) $(ALLFLAGS) -o $@ $< $(IDS_OBJ) $(COMMON_OBJ) \
	    $(IDS_LIBS) $(LIBS) -lcmocka

.PHONY: ids-unit ids-bench
ids-unit: $(IDS_UNIT)
	@for t in $(IDS_UNIT); do echo "== $$t"; $$t || exit 1; done

ids-bench: $(BUILD)/bin/cloudlet-ids $(BUILD)/bin/ids-mkpcap
	bench/ids
