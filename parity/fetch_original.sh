#!/usr/bin/env bash
# Fetches the paper's original code and the openai/baselines it was written against into
# parity/.original/ (gitignored; never commit it), then applies parity/original.patch.
#
#   parity/fetch_original.sh
#
# Sources (override with a URL or a local clone/mirror, e.g. where GitHub is unreachable):
#   ONPOLICYBASELINES_GIT  default https://github.com/robintyh1/onpolicybaselines.git
#   BASELINES_GIT          default https://github.com/openai/baselines.git
# Result:
#   parity/.original/onpolicybaselines/   robintyh1/onpolicybaselines at ONPOLICYBASELINES_REV
#   parity/.original/baselines/           openai/baselines at BASELINES_REV (import root)
#   parity/.original/SOURCES.json         the two commits and the patch's sha256
# Rerunning replaces both trees (a fresh export, patched again).
set -euo pipefail

ONPOLICYBASELINES_REV=58d401622b38a9127437cf48b1b62b27028d694a  # 2020-04-03, its last commit
# The parent of 9fa8e1b (2018-01-25, "Lots of cleanups"), which removed U.mean, U.sum and
# U.dense from tf_util: the last baselines the original's code can import. (PyPI's
# baselines 0.1.4 is not it: that wheel holds only deepq, no trpo_mpi, ppo1, acktr or bench.)
BASELINES_REV=b5be53dc928bc19c39bce2a3f8a4e7dd0374f1dd
ONPOLICYBASELINES_GIT=${ONPOLICYBASELINES_GIT:-https://github.com/robintyh1/onpolicybaselines.git}
BASELINES_GIT=${BASELINES_GIT:-https://github.com/openai/baselines.git}

PARITY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGET="$PARITY_DIR/.original"
PATCH="$PARITY_DIR/original.patch"

fail() { echo "fetch_original: $*" >&2; exit 1; }
command -v git >/dev/null || fail "git is needed"
command -v patch >/dev/null || fail "patch is needed (apt-get install patch)"

mkdir -p "$TARGET/git"
STAGING=$(mktemp -d "$TARGET/.staging-XXXXXX")
trap 'rm -rf "$STAGING"' EXIT

# export NAME URL REV DEST: a bare clone cached in .original/git/NAME.git, then REV's tree.
export_tree() {
  local name=$1 url=$2 rev=$3 dest=$4 bare="$TARGET/git/$1.git"
  if [ ! -d "$bare" ] || ! git --git-dir="$bare" cat-file -e "$rev^{commit}" 2>/dev/null; then
    rm -rf "$bare"
    echo "cloning $url"
    git clone --quiet --bare "$url" "$bare" || fail "cannot clone $url (set ${name^^}_GIT)"
  fi
  git --git-dir="$bare" cat-file -e "$rev^{commit}" 2>/dev/null \
    || fail "$url has no commit $rev"
  mkdir -p "$dest"
  git --git-dir="$bare" archive "$rev" | tar -x -C "$dest"
  echo "$name: $rev"
}

export_tree onpolicybaselines "$ONPOLICYBASELINES_GIT" "$ONPOLICYBASELINES_REV" \
  "$STAGING/onpolicybaselines"
export_tree baselines "$BASELINES_GIT" "$BASELINES_REV" "$STAGING/baselines"

patch --quiet --forward -p1 -d "$STAGING" < "$PATCH" || fail "$PATCH does not apply"
echo "applied $(basename "$PATCH")"

PATCH_SHA=$(sha256sum "$PATCH" | cut -d' ' -f1)
cat > "$STAGING/SOURCES.json" <<EOF
{
  "onpolicybaselines_url": "$ONPOLICYBASELINES_GIT",
  "onpolicybaselines_commit": "$ONPOLICYBASELINES_REV",
  "baselines_url": "$BASELINES_GIT",
  "baselines_commit": "$BASELINES_REV",
  "patch_sha256": "$PATCH_SHA"
}
EOF

for part in onpolicybaselines baselines SOURCES.json; do
  rm -rf "${TARGET:?}/$part"
  mv "$STAGING/$part" "$TARGET/$part"
done
echo "the original is in $TARGET"
