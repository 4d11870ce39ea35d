/*
 * cloudlet-test.yar - YARA rules of cloudlet's own test signature set.
 * Harmless test patterns only; see README.md.
 */

rule Cloudlet_Test_EICAR
{
    meta:
        description = "EICAR anti-virus test string (68 bytes)"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar
}

rule Cloudlet_Test_Webshell
{
    meta:
        description = "cloudlet's made-up webshell marker, and PHP that runs request input"
    strings:
        $marker = "CLOUDLET-TEST-WEBSHELL"
        $runs_request = /<\?php[^\n]{0,64}(eval|system|passthru|shell_exec)\s*\(\s*\$_(GET|POST|REQUEST)/
    condition:
        any of them
}
