/*
 * In-module cost of a token beyond its signature.
 *
 * Makes a certified unit in process on the simulator board (its records,
 * device secret and monotonic counter in a fresh directory, fsync'd files
 * as in sello-sim): the test fixture provisions it with a known key and
 * seals it under the fixture's activation secret (fx_provision), the
 * matching certificate is loaded, and the fixture's custodians activate it
 * (fx_quorum), all through the module's own code and ABI. Then, in one
 * run, it measures (a) whole STAMP frames through sello_module_handle and
 * (b) bare signatures of the same key with the same engine (the key
 * secret unwrapped from the unit record with that activation secret). The
 * difference per operation is what the module itself spends: request
 * decoding, clock, serial, TSTInfo and SignedData encoding, hashing. The
 * serial reservation writes of the simulator board are included, as they
 * are part of issuing.
 *
 *   p256     test/data/certs/unit-p256.priv, tsu.der and ca.der
 *   rsa2048  test/data/golden/tsu-rsa2048.priv, tsu-rsa2048.der, ca.der
 * both with the default configuration (RSA signatures with SHA-256).
 *
 * usage: bench_module WORK_DIR p256|rsa2048 REQUEST.tsq [SECONDS]
 * (WORK_DIR is created; run from the source tree, or with
 * $SELLO_TEST_DATA naming test/data.)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include <sello/abi.h>
#include <sello/module.h>

#include "../../board/sim/sim.h"
#include "../unit/fixture.h"
#include "../unit/testdata.h"
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

static size_t call(uint8_t op, const uint8_t *payload, size_t len)
{
    size_t n = frame(op, payload, len);
    return sello_module_handle(&module, req, n, resp, sizeof resp);
}

/* Appends test/data/<rel> to out[*len..cap). */
static bool append_file(const char *rel, uint8_t *out, size_t cap,
                        size_t *len)
{
    size_t n;
    uint8_t *p = td_load(rel, &n);
    bool ok = p && cap - *len >= n;
    if (ok) {
        memcpy(out + *len, p, n);
        *len += n;
    }
    free(p);
    return ok;
}

/* Provisions, certifies and activates the unit of `which`. */
static bool make_unit(const char *which, const char *dir)
{
    const char *priv_file, *cert_file, *ca_file;
    uint8_t key_type;
    if (strcmp(which, "p256") == 0) {
        key_type = SELLO_KEY_P256;
        priv_file = "certs/unit-p256.priv";
        cert_file = "certs/tsu.der";
        ca_file = "certs/ca.der";
    } else if (strcmp(which, "rsa2048") == 0) {
        key_type = SELLO_KEY_RSA2048;
        priv_file = "golden/tsu-rsa2048.priv";
        cert_file = "golden/tsu-rsa2048.der";
        ca_file = "golden/ca.der";
    } else {
        fprintf(stderr, "bench: unknown key %s (p256 or rsa2048)\n", which);
        return false;
    }
    char state[4096], secret[4200], counter[4200];
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(secret, sizeof secret, "%s.secret", state);
    snprintf(counter, sizeof counter, "%s.counter", state);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        perror(dir);
        return false;
    }
    if (sim_nv_open(state, secret) != 0 ||
        sim_counter_open(counter, state) != 0) {
        fprintf(stderr, "bench: cannot set up the board in %s\n", dir);
        return false;
    }
    size_t priv_len;
    uint8_t *priv = td_load(priv_file, &priv_len);
    if (!priv) {
        fprintf(stderr, "bench: cannot read test/data/%s\n", priv_file);
        return false;
    }
    fx_tlv t;
    fx_tlv_init_subject(&t);
    sello_status st = fx_provision(t.buf, t.w.len, key_type, priv, priv_len,
                                   NULL, NULL);
    free(priv);
    if (st != SELLO_OK) {
        fprintf(stderr, "bench: provisioning: %s\n", sello_status_str(st));
        return false;
    }
    if ((st = sello_module_start(&module)) != SELLO_OK) {
        fprintf(stderr, "bench: start: %s\n", sello_status_str(st));
        return false;
    }
    static uint8_t certs[SELLO_PAYLOAD_MAX];
    size_t certs_len = 0;
    if (!append_file(cert_file, certs, sizeof certs, &certs_len) ||
        !append_file(ca_file, certs, sizeof certs, &certs_len)) {
        fprintf(stderr, "bench: cannot read the certificates\n");
        return false;
    }
    call(SELLO_OP_LOAD_CERT, certs, certs_len);
    if (resp[2] != SELLO_OK) {
        fprintf(stderr, "bench: LOAD_CERT: %s\n", sello_status_str(resp[2]));
        return false;
    }
    if ((st = fx_quorum(&module, SELLO_PURPOSE_ACTIVATE, FX_THRESHOLD)) !=
        SELLO_OK) {
        fprintf(stderr, "bench: activation: %s\n", sello_status_str(st));
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr,
                "usage: %s WORK_DIR p256|rsa2048 REQUEST.tsq [SECONDS]\n",
                argv[0]);
        return 2;
    }
    double seconds = argc > 4 ? atof(argv[4]) : 3.0;
    if (!make_unit(argv[2], argv[1]))
        return 1;
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
    fx_resp cal = fx_calibrate(&module, (uint64_t)tv.tv_sec * 1000 +
                                            (uint64_t)tv.tv_usec / 1000);
    if (cal.status != SELLO_OK) {
        fprintf(stderr, "bench: calibration: %s\n", sello_status_str(cal.status));
        return 1;
    }

    /* The same key for the bare signatures: unwrapped from the unit
     * record with the fixture's activation secret. */
    static sello_unit_config cfg;
    static sello_key key;
    static uint8_t spki[SELLO_SPKI_MAX], work[SELLO_UNIT_RECORD_MAX];
    static uint8_t secret[SELLO_KEY_SECRET_MAX];
    size_t spki_len, secret_len;
    if (sello_unit_load(&cfg, spki, &spki_len, work) != SELLO_OK ||
        sello_unit_unseal(fx_activation_secret(), secret, &secret_len,
                          work) != SELLO_OK ||
        sello_key_import_private(&key, cfg.key_type, secret, secret_len) !=
            SELLO_OK) {
        fprintf(stderr, "bench: cannot unwrap the key\n");
        return 1;
    }
    memset(secret, 0, sizeof secret);
    const sello_hash_info *h = sello_key_sig_hash(&key, cfg.sig_hash);

    /*
     * Rounds alternate between whole tokens and bare signatures so that
     * frequency changes and neighbours' noise hit both alike; the median of
     * the per-round differences is reported.
     */
    size_t n = frame(SELLO_OP_STAMP, tsq, tsq_len);
    double round_s = seconds / ROUNDS / 2;
    double token_us[ROUNDS], sig_us[ROUNDS], diff_us[ROUNDS];
    unsigned long total_tokens = 0;
    double total_token_wall = 0;
    size_t out_len = 0;
    /* The host's part of the audit chain, as the relay does it (which
     * acknowledges once per batch): every 8 tokens an AUDIT_ACK of the
     * last record, counted in the token's cost. */
    static uint8_t ack[SELLO_FRAME_HEADER_LEN + 8], ack_resp[SELLO_FRAME_MAX];
    sello_frame_header_write(ack, SELLO_OP_AUDIT_ACK, 0, 0, 8);
    size_t token_len = 0;
    for (int r = 0; r < ROUNDS; r++) {
        unsigned long tokens = 0;
        double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        while (now_s(CLOCK_MONOTONIC) < t0 + round_s) {
            out_len = sello_module_handle(&module, req, n, resp, sizeof resp);
            if (resp[2] != SELLO_OK || !(resp[3] & SELLO_RESP_FLAG_AUDIT)) {
                fprintf(stderr, "bench: STAMP failed: %s\n",
                        sello_status_str(resp[2]));
                return 1;
            }
            const uint8_t *rec = resp + SELLO_FRAME_HEADER_LEN + 2;
            size_t rec_len = sello_get_be16(resp + SELLO_FRAME_HEADER_LEN);
            token_len = out_len - SELLO_FRAME_HEADER_LEN - 2 - rec_len;
            if (++tokens % 8 == 0) {
                uint64_t last = 0;
                for (size_t off = 0; off + SELLO_AUDIT_HEADER_LEN <= rec_len;
                     off += SELLO_AUDIT_HEADER_LEN +
                            sello_get_be16(rec + off + 2))
                    last = sello_get_be64(rec + off + 4);
                sello_put_be64(ack + SELLO_FRAME_HEADER_LEN, last);
                (void)sello_module_handle(&module, ack, sizeof ack, ack_resp,
                                          sizeof ack_resp);
            }
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
           token_len);
    return 0;
}
