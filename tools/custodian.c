/* Custodian keys and passphrases; contracts in custodian.h. */
#include "custodian.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "box.h"
#include "prompt.h"
#include "util.h"

static const custodian_kdf kdf_levels[] = {
    {"interactive", crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
     crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE},
    {"moderate", crypto_pwhash_argon2id_OPSLIMIT_MODERATE,
     crypto_pwhash_argon2id_MEMLIMIT_MODERATE},
    {"sensitive", crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE,
     crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE},
};

const custodian_kdf *custodian_kdf_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof kdf_levels / sizeof kdf_levels[0]; i++)
        if (strcmp(kdf_levels[i].name, name) == 0)
            return &kdf_levels[i];
    return NULL;
}

const custodian_kdf *custodian_kdf_default(void)
{
    return &kdf_levels[1];
}

bool custodian_kdf_acceptable(uint64_t ops, uint64_t mem)
{
    return ops >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
           ops <= crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE &&
           mem >= crypto_pwhash_argon2id_MEMLIMIT_MIN &&
           mem <= crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE;
}

void custodian_pass_wipe(custodian_pass *p)
{
    sodium_memzero(p, sizeof *p);
}

void custodian_key_wipe(custodian_key *k)
{
    sodium_memzero(k, sizeof *k);
}

bool custodian_pass_from_file(const char *path, custodian_pass *p)
{
    /* Read here rather than with util_read_file: that one's buffer would
     * be a second, unwiped copy of the secret on the heap. */
    memset(p, 0, sizeof *p);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        util_err("%s: %s", path, strerror(errno));
        return false;
    }
    char buf[CUSTODIAN_PASS_MAX + 2];
    size_t n = 0;
    bool ok = true;
    while (n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            util_err("%s: %s", path, strerror(errno));
            ok = false;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    size_t len = 0;
    while (len < n && buf[len] != '\n')
        len++;
    if (ok && len == n && n == sizeof buf) {
        util_err("%s: passphrase longer than %u characters", path,
                 CUSTODIAN_PASS_MAX);
        ok = false;
    }
    if (ok && len > 0 && buf[len - 1] == '\r')
        len--;
    if (ok && len > CUSTODIAN_PASS_MAX) {
        util_err("%s: passphrase longer than %u characters", path,
                 CUSTODIAN_PASS_MAX);
        ok = false;
    }
    if (ok && len == 0) {
        util_err("%s: the first line (the passphrase) is empty", path);
        ok = false;
    }
    if (ok) {
        memcpy(p->s, buf, len);
        p->s[len] = '\0';
        p->len = len;
    }
    sodium_memzero(buf, sizeof buf);
    return ok;
}

bool custodian_pass_prompt(const char *prompt, bool confirm,
                           custodian_pass *p)
{
    memset(p, 0, sizeof *p);
    if (!confirm)
        return prompt_line(prompt, false, p->s, sizeof p->s, &p->len);
    for (;;) {
        if (!prompt_line(prompt, false, p->s, sizeof p->s, &p->len))
            return false;
        if (p->len < CUSTODIAN_PASS_MIN) {
            fprintf(stderr, "too short: at least %u characters (%u or more "
                            "suggested); try again\n",
                    CUSTODIAN_PASS_MIN, CUSTODIAN_PASS_SUGGESTED);
            continue;
        }
        custodian_pass again;
        if (!prompt_line("Type it again:", false, again.s, sizeof again.s,
                         &again.len)) {
            custodian_pass_wipe(p);
            return false;
        }
        bool same = again.len == p->len &&
                    sodium_memcmp(again.s, p->s, p->len) == 0;
        custodian_pass_wipe(&again);
        if (same)
            break;
        fprintf(stderr, "the two entries differ; try again\n");
    }
    if (p->len < CUSTODIAN_PASS_SUGGESTED)
        fprintf(stderr, "(accepted; %u or more characters are suggested)\n",
                CUSTODIAN_PASS_SUGGESTED);
    return true;
}

bool custodian_derive(const custodian_pass *p,
                      const uint8_t salt[CUSTODIAN_SALT_LEN], uint64_t ops,
                      uint64_t mem, custodian_key *k)
{
    if (sodium_init() < 0) {
        util_err("libsodium failed to initialise");
        return false;
    }
    if (mem > SIZE_MAX) {
        util_err("key derivation memory limit too large for this host");
        return false;
    }
    if (crypto_pwhash(k->priv, sizeof k->priv, p->s, p->len, salt,
                      (unsigned long long)ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        util_err("passphrase key derivation failed (Argon2id with %llu "
                 "MiB: out of memory?)",
                 (unsigned long long)(mem >> 20));
        sodium_memzero(k, sizeof *k);
        return false;
    }
    sello_x25519_public(k->priv, k->pub);
    return true;
}

bool custodian_choose(size_t n, const char *const *passfiles, size_t npass,
                      const custodian_kdf *kdf, custodian_new *out)
{
    if (sodium_init() < 0) {
        util_err("libsodium failed to initialise");
        return false;
    }
    if (npass != 0 && npass != n)
        return false;
    if (npass == 0 && !prompt_have_tty()) {
        util_err("no terminal to ask the custodians for their passphrases: "
                 "give --passphrase-file once per custodian");
        return false;
    }
    /* Guarded, locked memory: every passphrase is held until the last one
     * is known, to refuse duplicates. */
    custodian_pass *pass = sodium_malloc(n * sizeof *pass);
    if (!pass) {
        util_err("out of memory");
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        for (;;) {
            if (npass) {
                ok = custodian_pass_from_file(passfiles[i], &pass[i]);
                if (ok && pass[i].len < CUSTODIAN_PASS_MIN) {
                    util_err("%s: custodian %zu's passphrase is shorter than "
                             "%u characters",
                             passfiles[i], i + 1, CUSTODIAN_PASS_MIN);
                    ok = false;
                }
            } else {
                char prompt[96];
                snprintf(prompt, sizeof prompt,
                         "Custodian %zu of %zu, choose a passphrase:", i + 1,
                         n);
                ok = custodian_pass_prompt(prompt, true, &pass[i]);
            }
            if (!ok)
                break;
            size_t same = 0;
            for (size_t j = 0; j < i && !same; j++)
                if (pass[j].len == pass[i].len &&
                    sodium_memcmp(pass[j].s, pass[i].s, pass[i].len) == 0)
                    same = j + 1;
            if (!same)
                break;
            /* Distinct custodians with one secret would be one custodian
             * holding several shares: no dual control. */
            if (npass) {
                util_err("custodians %zu and %zu have the same passphrase; "
                         "each custodian needs their own",
                         same, i + 1);
                ok = false;
                break;
            }
            fprintf(stderr, "that is custodian %zu's passphrase; each "
                            "custodian needs their own; try again\n",
                    same);
        }
    }
    if (ok)
        fprintf(stderr, "deriving %zu custodian keys (Argon2id, %s)...\n", n,
                kdf->name);
    for (size_t i = 0; ok && i < n; i++)
        ok = util_random(out[i].salt, sizeof out[i].salt) &&
             custodian_derive(&pass[i], out[i].salt, kdf->ops, kdf->mem,
                              &out[i].key);
    sodium_free(pass);
    if (!ok)
        sodium_memzero(out, n * sizeof *out);
    return ok;
}
