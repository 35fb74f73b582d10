/*
 * One side of an OTRv3 SMP run done by libotr 4.1's own SMP code (otrl_sm_step1..5, exported
 * by libotr.so), talking hex TLV values over stdin/stdout. Used to produce the libotr SMP1 in
 * ../tests.rs and to check otr3's SMP against libotr by hand:
 *
 *   cc -o libotr_smp libotr_smp.c -lotr -lgcrypt
 *   ./libotr_smp alice <combined secret hex>   # prints SMP1, reads SMP2, prints SMP3, reads SMP4
 *   ./libotr_smp bob <combined secret hex>     # reads SMP1, prints SMP2, reads SMP3, prints SMP4
 *
 * The combined secret is the 32-byte SHA-256 that libotr's message.c builds
 * (0x01 || initiator fp || responder fp || ssid || user secret) and hands to the steps.
 * Every line out is "MSG <hex>", then a last line "RESULT success|failure|error <step>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/sm.h>

static int unhex(const char *s, unsigned char **out) {
    size_t n = strlen(s) / 2;
    *out = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned int b;
        if (sscanf(s + 2 * i, "%2x", &b) != 1) return -1;
        (*out)[i] = (unsigned char)b;
    }
    return (int)n;
}

static void put(const unsigned char *m, int len) {
    printf("MSG ");
    for (int i = 0; i < len; i++) printf("%02x", m[i]);
    printf("\n");
    fflush(stdout);
}

static int get(unsigned char **m) {
    static char line[65536];
    if (!fgets(line, sizeof line, stdin)) return -1;
    line[strcspn(line, "\r\n")] = 0;
    return unhex(line, m);
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    OTRL_INIT;
    otrl_sm_init();
    unsigned char *secret;
    int slen = unhex(argv[2], &secret);
    OtrlSMState st;
    otrl_sm_state_new(&st);
    otrl_sm_state_init(&st);
    unsigned char *out, *in;
    int outlen, inlen;
    gcry_error_t err;
    if (strcmp(argv[1], "alice") == 0) {
        otrl_sm_step1(&st, secret, slen, &out, &outlen);
        put(out, outlen);
        if ((inlen = get(&in)) < 0) return 3;
        err = otrl_sm_step3(&st, in, inlen, &out, &outlen);
        if (st.sm_prog_state == OTRL_SMP_PROG_CHEATED || err) { printf("RESULT error 3\n"); return 0; }
        put(out, outlen);
        if ((inlen = get(&in)) < 0) return 3;
        err = otrl_sm_step5(&st, in, inlen);
        if (st.sm_prog_state == OTRL_SMP_PROG_CHEATED) { printf("RESULT error 5\n"); return 0; }
        printf("RESULT %s\n", st.sm_prog_state == OTRL_SMP_PROG_SUCCEEDED ? "success" : "failure");
    } else {
        if ((inlen = get(&in)) < 0) return 3;
        err = otrl_sm_step2a(&st, in, inlen, 0);
        if (st.sm_prog_state == OTRL_SMP_PROG_CHEATED || err) { printf("RESULT error 2\n"); return 0; }
        otrl_sm_step2b(&st, secret, slen, &out, &outlen);
        put(out, outlen);
        if ((inlen = get(&in)) < 0) return 3;
        err = otrl_sm_step4(&st, in, inlen, &out, &outlen);
        if (st.sm_prog_state == OTRL_SMP_PROG_CHEATED) { printf("RESULT error 4\n"); return 0; }
        put(out, outlen);
        printf("RESULT %s\n", st.sm_prog_state == OTRL_SMP_PROG_SUCCEEDED ? "success" : "failure");
    }
    fflush(stdout);
    return 0;
}
