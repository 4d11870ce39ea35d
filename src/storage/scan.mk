# src/storage/scan.mk - signature scanning (scan.c), the cloudlet-scan tool and
# its unit test. Included from src/storage/storage.mk (or by hand:
# make -f Makefile -f src/storage/scan.mk scan-unit).

SCAN_CFLAGS := $(shell pkg-config --cflags libclamav yara 2>/dev/null)
SCAN_LIBS   := $(shell pkg-config --libs libclamav yara 2>/dev/null)
SCAN_OBJ     = $(BUILD)/obj/storage/scan.o

$(BUILD)/obj/storage/scan.o: src/storage/scan.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(SCAN_CFLAGS) $(ALLFLAGS) -MMD -MP -c -o $@ $<

all: $(BUILD)/bin/cloudlet-scan

$(BUILD)/bin/cloudlet-scan: src/storage/scancli.c $(SCAN_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CPPFLAGS) -Isrc/storage $(ALLFLAGS) -o $@ $< $(SCAN_OBJ) $(COMMON_OBJ) \
	    $(SCAN_LIBS) $(LIBS)

$(BUILD)/tests/storage/test_scan: tests/unit/storage/test_scan.c $(SCAN_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Isrc/storage $(ALLFLAGS) -o $@ $< $(SCAN_OBJ) $(COMMON_OBJ) \
	    $(SCAN_LIBS) $(LIBS) -lcmocka

.PHONY: scan-unit scan-bench
scan-unit: $(BUILD)/tests/storage/test_scan
	cd $(CURDIR) && $(BUILD)/tests/storage/test_scan

scan-bench: $(BUILD)/bin/cloudlet-scan
	bench/scan
