/*
 * fuzz_idspkt.c - libFuzzer over the whole packet path of the sensor
 * (src/ids/sensor.c and below): the input is a sequence of frames, each
 * [length: 2 bytes][frame], fed to one tenant network with the project's
 * test rules and every detector on, under a small memcap. Invariants: no
 * crash, leak or hang; memory charged to the tenant all comes back when
 * the flows end.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "sensor.h"

static const char cfg_text[] =
	"{\"tenant_id\":\"t\",\"network_id\":\"n\",\"home_net\":[\"10.0.0.0/24\"],"
	"\"memcap_bytes\":1048576,"
	"\"assigned\":[{\"mac\":\"02:00:00:00:00:02\",\"ip\":\"10.0.0.5\",\"vm\":\"v\"}],"
	"\"dhcp_server\":{\"mac\":\"02:00:00:00:00:09\",\"ip\":\"10.0.0.1\"},"
	"\"detectors\":{\"scan_ports\":3,\"sweep_hosts\":3,\"synflood_per_s\":10},"
	"\"custom_rules\":\""
	"alert http any any -> any any (msg:\\\"u\\\"; http.uri; content:\\\"/a\\\"; pcre:\\\"/a+b/U\\\"; sid:1;)\\n"
	"alert http any any -> any any (msg:\\\"h\\\"; http.header; content:\\\"X\\\"; sid:2;)\\n"
	"alert http any any -> any any (msg:\\\"b\\\"; flow:to_client; file.data; content:\\\"z\\\"; sid:3;)\\n"
	"alert tcp any any -> any any (msg:\\\"p\\\"; content:\\\"AB\\\"; byte_jump:1,0,relative; isdataat:1,relative; sid:4;)\\n"
	"alert dns any any -> any any (msg:\\\"d\\\"; dns.query; content:\\\"e\\\"; sid:5;)\\n"
	"alert tls any any -> any any (msg:\\\"t\\\"; tls.sni; content:\\\"s\\\"; sid:6;)\\n"
	"alert udp any any -> any any (msg:\\\"f\\\"; content:\\\"Q\\\"; flowbits:set,x; sid:7;)\\n"
	"alert udp any any -> any any (msg:\\\"g\\\"; flowbits:isset,x; dsize:>2; threshold:type limit,track by_src,count 1,seconds 60; sid:8;)\\n"
	"\"}";

static struct sensor s;
static struct net *n;

static void
init(void)
{
	json_t *cfg, *sum;
	char err[256];

	if (sensor_init(&s, "/dev/null", err, sizeof(err)) < 0)
		abort();
	cfg = json_loads(cfg_text, 0, NULL);
	if (!cfg || sensor_net_set(&s, cfg, &sum, err, sizeof(err)) < 0)
		abort();
	json_decref(sum);
	json_decref(cfg);
	n = s.nets;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0;
	uint64_t ts = 1000000;

	if (!n)
		init();
	while (i + 2 <= size) {
		size_t len = (size_t)(data[i] << 8 | data[i + 1]) % 2048;

		i += 2;
		if (len > size - i)
			len = size - i;
		sensor_packet(&s, n, 1, data + i, len, len, ts);
		ts += 1000;
		i += len;
	}
	/* End every flow, as a timeout would. */
	flow_expire(&s.ft, ts + 3600ull * 1000000, (size_t)-1);
	if (n->mem.used != 0)
		abort();
	return 0;
}
