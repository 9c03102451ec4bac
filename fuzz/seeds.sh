#!/usr/bin/env bash
# Builds the seed corpus of the targets that read webhook bodies from the repository's own
# fixtures (harbor-events/tests/fixtures, one folder per format). The other targets' seeds are
# small files written by hand and committed as they are. CI runs this and fails if the
# committed seeds differ (a fixture was added without its seeds).
#
#   fuzz/seeds.sh            # rewrite fuzz/seeds/events_*/ from the fixtures
set -euo pipefail
cd "$(dirname "$0")"
fixtures=../harbor-events/tests/fixtures
[ -d "$fixtures" ] || { echo "no $fixtures" >&2; exit 1; }

# The index of each format in `harbor_events::Format::ALL`, which the first byte selects.
format_byte() {
  case "$1" in
    v1) printf '\000' ;; docs-only) printf '\001' ;; v2) printf '\002' ;;
    cloudevents) printf '\003' ;; distribution) printf '\004' ;;
    *) echo "unknown fixture folder $1" >&2; exit 1 ;;
  esac
}

for t in events_decode events_fast_path events_format; do
  rm -rf "seeds/$t"; mkdir -p "seeds/$t"
done
# One folder per format (beside them, fuzz-regressions/ holds reproducers, replayed by
# fuzz/run.sh from where they are). A new folder must be added here, with its format byte.
formats="v1 docs-only v2 cloudevents distribution"
for dir in "$fixtures"/*/; do
  case " $formats fuzz-regressions " in
    *" $(basename "$dir") "*) ;;
    *) echo "fuzz/seeds.sh: which format is $dir? add it to seeds.sh" >&2; exit 1 ;;
  esac
done
for folder in $formats; do
  dir="$fixtures/$folder/"
  for f in "$dir"*.json; do
    name="$folder-$(basename "$f" .json)"
    # events_decode: the body as Harbor sends it (the format is detected).
    cp "$f" "seeds/events_decode/$name"
    # events_fast_path: a hint byte, 0 (detect) here; events_format: the format's own byte.
    { printf '\000'; cat "$f"; } > "seeds/events_fast_path/$name"
    { format_byte "$folder"; cat "$f"; } > "seeds/events_format/$name"
  done
done
echo "seeds: $(find seeds/events_* -type f | wc -l) files from $fixtures"
