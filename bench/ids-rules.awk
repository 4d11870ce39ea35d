# ids-rules.awk - N rules in the shape of a public rule set (for bench/ids):
# mostly HTTP sticky buffers (URI, host, user agent, method, file.data),
# then DNS queries, TLS SNI and TCP payload rules, with the usual
# modifiers (nocase, depth, distance/within, endswith, bsize), some pcre
# behind a content, flowbits pairs, thresholds. Nearly all look for
# strings that the bench traffic never carries, as in real traffic; a few
# share prefixes with it (so candidates are evaluated and rejected), and a
# handful match it.   awk -v N=10000 -f ids-rules.awk
function w(i, salt) {
	return sprintf("%c%c%c%x", 97 + (i * 7 + salt) % 26, 97 + (i * 13 + salt) % 26,
		       97 + (i * 17 + salt * 3) % 26, i * 2654435761 % 1048576)
}
BEGIN {
	sid = 3000000
	for (i = 0; i < N; i++) {
		k = i % 20
		s = ++sid
		if (k <= 4)
			printf "alert http $HOME_NET any -> $EXTERNAL_NET any (msg:\"BENCH trojan checkin %d\"; flow:established,to_server; http.method; content:\"POST\"; http.uri; content:\"/%s/gate.php\"; fast_pattern; content:\"id=\"; distance:0; http.host; content:\"%s.example\"; classtype:trojan-activity; sid:%d; rev:1;)\n", i, w(i, 1), w(i, 2), s
		else if (k <= 6)
			printf "alert http $EXTERNAL_NET any -> $HOME_NET any (msg:\"BENCH web attack %d\"; flow:established,to_server; http.uri; content:\"/%s.php?\"; nocase; content:\"cmd=\"; nocase; distance:0; pcre:\"/cmd=[a-z0-9%%]{4,}/Ui\"; classtype:web-application-attack; sid:%d; rev:1;)\n", i, w(i, 3), s
		else if (k == 7)
			printf "alert http $HOME_NET any -> any any (msg:\"BENCH bad user agent %d\"; flow:established,to_server; http.user_agent; content:\"Mozilla/4.0 (%s\"; depth:20; classtype:trojan-activity; sid:%d; rev:1;)\n", i, w(i, 4), s
		else if (k == 8)
			printf "alert http $EXTERNAL_NET any -> $HOME_NET any (msg:\"BENCH exploit kit landing %d\"; flow:established,to_client; file.data; content:\"%s\"; content:\"eval(\"; distance:0; within:200; classtype:trojan-activity; sid:%d; rev:1;)\n", i, w(i, 5), s
		else if (k <= 11)
			printf "alert dns $HOME_NET any -> any any (msg:\"BENCH DNS query to a C2 domain %d\"; dns.query; content:\"%s.%s\"; nocase; endswith; classtype:trojan-activity; sid:%d; rev:1;)\n", i, w(i, 6), (i % 3 ? "top" : "xyz"), s
		else if (k <= 13)
			printf "alert tls $HOME_NET any -> $EXTERNAL_NET any (msg:\"BENCH TLS SNI of a C2 host %d\"; flow:established,to_server; tls.sni; content:\"%s.%s\"; nocase; bsize:<64; classtype:trojan-activity; sid:%d; rev:1;)\n", i, w(i, 7), (i % 2 ? "com" : "ru"), s
		else if (k == 14)
			printf "alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:\"BENCH shellcode marker %d\"; flow:established,to_server; content:\"|90 90|%s|eb|\"; depth:400; classtype:shellcode-detect; sid:%d; rev:1;)\n", i, w(i, 8), s
		else if (k == 15)
			printf "alert tcp $HOME_NET any -> $EXTERNAL_NET any (msg:\"BENCH binary protocol %d\"; flow:established,to_server; content:\"|%02x %02x 00|%s\"; depth:16; byte_test:2,>,%d,0,relative; classtype:trojan-activity; sid:%d; rev:1;)\n", i, i % 256, (i * 3) % 256, w(i, 9), i % 1000, s
		else if (k == 16)
			printf "alert http any any -> $HOME_NET any (msg:\"BENCH app path probe %d\"; flow:established,to_server; http.uri; content:\"/app/v\"; content:\"/%s/\"; distance:0; within:40; classtype:web-application-activity; sid:%d; rev:1;)\n", i, w(i, 10), s
		else if (k == 17)
			printf "alert http any any -> any any (msg:\"BENCH header probe %d\"; flow:established,to_server; http.header; content:\"X-%s|3a| \"; nocase; classtype:misc-activity; sid:%d; rev:1;)\n", i, w(i, 11), s
		else if (k == 18)
			printf "alert http $HOME_NET any -> any any (msg:\"BENCH flowbit set %d\"; flow:established,to_server; http.uri; content:\"/%s/login\"; flowbits:set,bench.%d; flowbits:noalert; sid:%d; rev:1;)\n", i, w(i, 12), i, s
		else
			printf "alert http any any -> $HOME_NET any (msg:\"BENCH flowbit check %d\"; flow:established,to_client; flowbits:isset,bench.%d; http.stat_code; content:\"200\"; file.data; content:\"%s\"; threshold:type limit, track by_src, count 1, seconds 60; sid:%d; rev:1;)\n", i, i - 1, w(i, 13), s
	}
	# A few that the traffic does match: the alert path is part of the cost.
	printf "alert http any any -> $HOME_NET any (msg:\"BENCH matches view.php\"; flow:established,to_server; http.uri; content:\"/view.php?id=\"; content:\"&page=9\"; distance:0; sid:%d; rev:1;)\n", ++sid
	printf "alert dns any any -> any any (msg:\"BENCH matches cdn7\"; dns.query; content:\".cdn7.example.net\"; endswith; sid:%d; rev:1;)\n", ++sid
	printf "alert tls any any -> any any (msg:\"BENCH matches service3\"; tls.sni; content:\".service3.example.org\"; sid:%d; rev:1;)\n", ++sid
}
