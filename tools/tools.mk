# The `sello` command line (tools/*.c), a host program. It reuses the
# firmware's pure helpers -- the DER reader/writer, the OID constants, the
# hash table and the share boxes (so both ends of a box are one
# implementation) -- compiled here with the host flags; never the module's
# key handling. libsodium provides the custodians' Argon2id.

SELLO_CLI_SRCS := sello.c cli.c cmd_admin.c cmd_audit.c cmd_custody.c cmd_tsp.c \
	audit_log.c \
	admin_client.c custodian.c prompt.c share_file.c tsp_request.c \
	tsp_verify.c http_client.c dn.c pem.c x509.c derx.c oidx.c hashx.c \
	unit_status.c util.c
SELLO_CLI_FW_SRCS := der.c oid.c hash.c box.c

SELLO_CLI_OBJS := $(SELLO_CLI_SRCS:%.c=$(BUILD)/obj/tools/%.o) \
	$(SELLO_CLI_FW_SRCS:%.c=$(BUILD)/obj/tools/fw/%.o)
SELLO_CLI_CFLAGS := $(HOST_CFLAGS) -Ifirmware

PROGRAMS += $(BIN)/sello

$(BUILD)/obj/tools/%.o: tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SELLO_CLI_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/tools/fw/%.o: firmware/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SELLO_CLI_CFLAGS) -MMD -MP -c $< -o $@

$(BIN)/sello: $(SELLO_CLI_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_BASE) -o $@ $^ -lbearssl -lsodium

-include $(SELLO_CLI_OBJS:.o=.d)
