# Shell helpers for the test PKI, sourced by test/data/certs/make-certs.sh
# and test/data/golden/make-golden.sh. Every certificate is issued with
# `openssl ca` so that serial numbers and validity dates are fixed by the
# script (only keys and ECDSA signatures are random); the results are
# committed and the scripts are only re-run deliberately.
#
# Needs: PKI_WORK (a scratch directory).

pki_init() {
  : "${PKI_WORK:?}"
  : >"$PKI_WORK/index.txt"
  cat >"$PKI_WORK/ca.cnf" <<EOF
[ ca ]
default_ca = ca_default
[ ca_default ]
database = $PKI_WORK/index.txt
new_certs_dir = $PKI_WORK
serial = $PKI_WORK/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[ policy_any ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ ext_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ ext_tsu ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ ext_eku_noncritical ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = timeStamping
[ ext_eku_multi ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping,codeSigning
[ ext_no_eku ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
EOF
}

# pki_key OUT.pem ec|rsa2048|rsa3072
pki_key() {
  case $2 in
    ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
          -pkeyopt ec_param_enc:named_curve -out "$1" ;;
    rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2#rsa}" \
          -out "$1" ;;
  esac
}

# pki_issue OUT.der SUBJECT_KEY "/CN=..." ISSUER_CERT.pem|self ISSUER_KEY
#           EXTENSIONS|none SERIAL_HEX START END
# "none" makes an X.509 v1 certificate (openssl ca adds no extensions and
# then writes version 1).
pki_issue() {
  local out=$1 key=$2 subj=$3 icert=$4 ikey=$5 ext=$6 serial=$7 start=$8 end=$9
  openssl req -new -config "$PKI_WORK/ca.cnf" -key "$key" -subj "$subj" \
    -out "$PKI_WORK/req.pem"
  echo "$serial" >"$PKI_WORK/serial"
  local args=(-batch -config "$PKI_WORK/ca.cnf" -in "$PKI_WORK/req.pem"
              -keyfile "$ikey" -startdate "$start" -enddate "$end"
              -preserveDN -notext -out "$PKI_WORK/out.pem")
  if [ "$icert" = self ]; then args+=(-selfsign); else args+=(-cert "$icert"); fi
  if [ "$ext" != none ]; then args+=(-extensions "$ext"); fi
  openssl ca "${args[@]}" 2>"$PKI_WORK/ca.log" || { cat "$PKI_WORK/ca.log"; return 1; }
  openssl x509 -in "$PKI_WORK/out.pem" -outform DER -out "$out"
}

# pki_pem IN.der OUT.pem
pki_pem() { openssl x509 -inform DER -in "$1" -out "$2"; }
