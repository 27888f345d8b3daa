/*
 * In-module cost of a token beyond its signature.
 *
 * Opens an initialised, certified unit (a sello-sim state directory) in
 * process, then in one run measures (a) whole STAMP frames through
 * sello_module_handle and (b) bare signatures of the same key with the same
 * engine. The difference per operation is what the module itself spends:
 * request decoding, clock, serial, TSTInfo and SignedData encoding, hashing.
 * The serial reservation writes of the simulator board (fsync'd files) are
 * included, as they are part of issuing.
 *
 * usage: bench_module STATE_DIR SECRET_FILE REQUEST.tsq [SECONDS]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <sello/abi.h>
#include <sello/module.h>

#include "../../board/sim/sim.h"
#include "engine.h"
#include "unit.h"

volatile sig_atomic_t sim_stopping;

static sello_module_storage module;
static uint8_t req[SELLO_FRAME_MAX], resp[SELLO_FRAME_MAX];

#define ROUNDS 9

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts a copy). */
static double median(const double *v, int n)
{
    double s[ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return s[n / 2];
}

static double now_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t frame(uint8_t op, const uint8_t *payload, size_t len)
{
    sello_frame_header_write(req, op, 0, 1, (uint32_t)len);
    memcpy(req + SELLO_FRAME_HEADER_LEN, payload, len);
    return SELLO_FRAME_HEADER_LEN + len;
}

static const char *key_name(uint8_t t)
{
    static const char *names[] = { "?", "P-256", "P-384", "RSA-2048",
                                   "RSA-3072", "RSA-4096" };
    return t < 6 ? names[t] : "?";
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s STATE_DIR SECRET REQUEST.tsq [SECONDS]\n",
                argv[0]);
        return 2;
    }
    double seconds = argc > 4 ? atof(argv[4]) : 3.0;
    if (sim_nv_open(argv[1], argv[2]) != 0 ||
        sello_module_start(&module) != SELLO_OK) {
        fprintf(stderr, "bench: cannot start the unit in %s\n", argv[1]);
        return 1;
    }
    FILE *f = fopen(argv[3], "rb");
    static uint8_t tsq[SELLO_PAYLOAD_MAX];
    size_t tsq_len = f ? fread(tsq, 1, sizeof tsq, f) : 0;
    if (f)
        fclose(f);
    if (tsq_len == 0) {
        fprintf(stderr, "bench: cannot read %s\n", argv[3]);
        return 1;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint8_t utc[8];
    sello_put_be64(utc, (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000);
    size_t n = frame(SELLO_OP_SET_TIME, utc, sizeof utc);
    sello_module_handle(&module, req, n, resp, sizeof resp);

    static sello_unit_config cfg;
    static sello_key key;
    static uint8_t spki[SELLO_SPKI_MAX], work[SELLO_UNIT_RECORD_MAX];
    size_t spki_len;
    if (sello_unit_load(&cfg, &key, spki, &spki_len, work) != SELLO_OK) {
        fprintf(stderr, "bench: cannot load the key\n");
        return 1;
    }
    const sello_hash_info *h = sello_key_sig_hash(&key, cfg.sig_hash);

    /*
     * Rounds alternate between whole tokens and bare signatures so that
     * frequency changes and neighbours' noise hit both alike; the median of
     * the per-round differences is reported.
     */
    n = frame(SELLO_OP_STAMP, tsq, tsq_len);
    double round_s = seconds / ROUNDS / 2;
    double token_us[ROUNDS], sig_us[ROUNDS], diff_us[ROUNDS];
    unsigned long total_tokens = 0;
    double total_token_wall = 0;
    size_t out_len = 0;
    for (int r = 0; r < ROUNDS; r++) {
        unsigned long tokens = 0;
        double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        while (now_s(CLOCK_MONOTONIC) < t0 + round_s) {
            out_len = sello_module_handle(&module, req, n, resp, sizeof resp);
            if (resp[2] != SELLO_OK) {
                fprintf(stderr, "bench: STAMP failed: %s\n",
                        sello_status_str(resp[2]));
                return 1;
            }
            tokens++;
        }
        token_us[r] = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e6 / (double)tokens;
        total_tokens += tokens;
        total_token_wall += now_s(CLOCK_MONOTONIC) - t0;

        uint8_t digest[SELLO_HASH_MAX_LEN] = { (uint8_t)r }, sig[SELLO_SIG_MAX];
        size_t sig_len;
        unsigned long sigs = 0;
        t0 = now_s(CLOCK_MONOTONIC);
        c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        while (now_s(CLOCK_MONOTONIC) < t0 + round_s) {
            digest[1]++;
            if (sello_key_sign(&key, h, digest, sig, sizeof sig, &sig_len) !=
                SELLO_OK)
                return 1;
            sigs++;
        }
        sig_us[r] = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e6 / (double)sigs;
        diff_us[r] = token_us[r] - sig_us[r];
    }
    sello_key_wipe(&key);
    double token_med = median(token_us, ROUNDS), sig_med = median(sig_us, ROUNDS);

    printf("%-9s tokens/s %8.0f  sigs/s %8.0f  token %8.1f us  sig %8.1f us  "
           "beyond signature %6.2f us (median of %d rounds)  token %zu B\n",
           key_name(cfg.key_type), (double)total_tokens / total_token_wall,
           1e6 / sig_med, token_med, sig_med, median(diff_us, ROUNDS), ROUNDS,
           out_len - SELLO_FRAME_HEADER_LEN);
    return 0;
}
