#!/bin/sh
# Rebuild common-passwords.txt from the npm package @zxcvbn-ts/language-common@4.1.3.
set -eu
cd "$(dirname "$0")"
mkdir -p src && cd src
npm pack --silent @zxcvbn-ts/language-common@4.1.3 >/dev/null
echo "bf3027c16c069d7877e25dc8751bc819e10e479afcc5ee1a323eb2ab73129ca9  zxcvbn-ts-language-common-4.1.3.tgz" | sha256sum -c -
rm -rf zts && mkdir zts && tar xzf zxcvbn-ts-language-common-4.1.3.tgz -C zts
cd ..
node -e '
const list = require("./src/zts/package/src/passwords.json");
const seen = new Set(), out = [];
for (const raw of list) {
  const w = raw.trim().toLowerCase();
  if ([...w].length < 8 || w.startsWith("#") || seen.has(w)) continue;
  seen.add(w); out.push(w);
}
process.stdout.write(out.join("\n") + "\n");
' > body.tmp
N=$(wc -l < body.tmp)
{
cat <<HDR
# Common/breached password blocklist (NIST SP 800-63B-4 blocklist check).
# Source: npm package @zxcvbn-ts/language-common, version 4.1.3, file src/passwords.json
#   (tarball zxcvbn-ts-language-common-4.1.3.tgz, sha256 bf3027c16c069d7877e25dc8751bc819e10e479afcc5ee1a323eb2ab73129ca9)
# Licence: MIT, Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.; Copyright (c) 2021 @zxcvbn-ts
#   (full text in README.md beside this file). Underlying data: Mark Burnett's 10 million
#   username/password set (xato.net, 2015), which he released to the public domain.
# Upstream derivation: passwords lower-cased and counted, kept if seen > 10 times, sorted by frequency,
#   non-ASCII removed, and entries dropped when zxcvbn's own non-dictionary patterns (repeat,
#   sequence, keyboard, date) already guess them faster than their rank (e.g. aaaaaaaa, abcdefgh).
# Derived here with build.sh:
#   npm pack @zxcvbn-ts/language-common@4.1.3 && tar xzf zxcvbn-ts-language-common-4.1.3.tgz
#   node: for each entry of package/src/passwords.json in order: trim, lower-case, keep if
#   length >= 8 characters, not starting with '#', and not already emitted (keeps frequency order).
# Format: one password per line, lower-case, most frequent first; lines starting with '#' are comments.
# Count: $N entries
HDR
cat body.tmp
} > common-passwords.txt
rm body.tmp
echo "$N entries, $(wc -c < common-passwords.txt) bytes"
