#!/bin/sh
# The classifier benchmark: citydesk's category model beside fastText (Debian package
# `fasttext`), the same data in the same run, single-threaded prediction for both.
#   1. THUCNews titles (../shared/data/text-bench/thucnews-titles): train on dev.txt, test on
#      test.txt. fastText: supervised, one character per token, -wordNgrams 2, -epoch 25,
#      otherwise defaults (its 2M-bucket model file is about 800 MB). Its throughput is the time
#      of `fasttext predict` over the test set repeated REPEAT (20) times minus the faster of two
#      runs of the same command over a one-line file (the model load).
#      citydesk: the configuration (idf, title features, complement naive Bayes) chosen by
#      3-fold CV on dev.txt alone (classify_select, what `citydesk train` does), then trained on
#      all of dev.txt.
#   2. The labelled citizen messages (../shared/data/complaints/taidi2020C_train.csv): 5-fold
#      cross-validated accuracy and macro-F1, the same stratified folds for both (written by
#      bench_classify). citydesk: nested CV (4 inner folds choose the configuration on each
#      outer training part; the taxonomy's names are in every training part). fastText: as above but -lr 1.0 (its default 0.1 learns nothing
#      from 320 messages in 25 epochs: it answers the majority class) and -bucket 200000 (to
#      keep five 800 MB model files off the disk), no taxonomy names.
# Prints
#   thucnews: citydesk acc 0.848 (146000 titles/s)  fastText acc 0.841 (55000 titles/s)  ratios 1.01 / 2.65
#   messages 5-fold CV: citydesk acc 0.826 macro-F1 0.807  fastText acc 0.74 macro-F1 0.70
# Figures are printed, never asserted. Usage: sh bench/classify.sh [--no-cv]
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=$BUILD/bench
REPEAT=${REPEAT:-20}
THUC=../shared/data/text-bench/thucnews-titles
MSGS=../shared/data/complaints/taidi2020C_train.csv
TAX=data/categories/hotline-taxonomy-L1-L2-L3.csv
mkdir -p "$OUT"

CFLAGS="-std=c11 -O2 -g -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc"
TEXTLIBS="$(pkg-config --libs opencc libutf8proc) -lm -pthread"
# The library: the normal build if it works; if another module is mid-edit, just the modules
# the classifier needs, compiled here the same way.
LIB=$BUILD/libcitydesk.a
LIBS="$(pkg-config --libs libmicrohttpd jansson sqlite3 libsodium xlsxwriter 2>/dev/null) $TEXTLIBS"
if ! make -s BUILD="$BUILD" "$LIB" >"$OUT/make.log" 2>&1; then
	echo "note: make $LIB failed (see $OUT/make.log); compiling the classifier modules directly" >&2
	LIB=$OUT/libclassify.a
	LIBS=$TEXTLIBS
	rm -f "$LIB"
	for f in src/util/alloc.c src/util/buf.c src/util/err.c src/util/csv.c src/core/category.c \
		src/core/text.c src/core/classify.c src/core/classify_eval.c src/core/classify_file.c; do
		gcc $CFLAGS $(pkg-config --cflags opencc libutf8proc) -c "$f" -o "$OUT/$(basename "$f" .c).o"
		ar rcs "$LIB" "$OUT/$(basename "$f" .c).o"
	done
fi
gcc $CFLAGS -o "$OUT/bench_classify" bench/bench_classify.c "$LIB" $LIBS

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

if [ ! -f "$THUC/dev.txt" ]; then
	echo "thucnews: skipped ($THUC missing)"
	exit 0
fi
"$OUT/bench_classify" thucnews "$THUC" --select --fasttext-out "$tmp/thuc" >"$tmp/cd.out"
cd_line=$(grep '^citydesk acc' "$tmp/cd.out")
cd_acc=$(echo "$cd_line" | awk '{print $3}')
cd_rate=$(echo "$cd_line" | awk '{gsub(/\(/, "", $4); print $4}')

secs() { # wall seconds of a command, to the millisecond
	s=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	e=$(date +%s.%N)
	echo "$s $e" | awk '{printf "%.3f", $2 - $1}'
}

if ! command -v fasttext >/dev/null 2>&1; then
	echo "thucnews: citydesk acc $cd_acc ($cd_rate titles/s)  fastText skipped (apt-get install fasttext)"
	exit 0
fi
fasttext supervised -input "$tmp/thuc/train.txt" -output "$tmp/thuc/ft" -wordNgrams 2 -epoch 25 \
	-thread 2 -verbose 0 >/dev/null 2>&1
ft_acc=$(fasttext test "$tmp/thuc/ft.bin" "$tmp/thuc/test.txt" 2>/dev/null | awk '/^P@1/ {printf "%.3f", $2}')
n_test=$(wc -l <"$tmp/thuc/test.txt")
: >"$tmp/thuc/many.txt"
i=0
while [ $i -lt "$REPEAT" ]; do
	cat "$tmp/thuc/test.txt" >>"$tmp/thuc/many.txt"
	i=$((i + 1))
done
head -n 1 "$tmp/thuc/test.txt" >"$tmp/thuc/one.txt"
secs fasttext predict "$tmp/thuc/ft.bin" "$tmp/thuc/one.txt" >/dev/null # warm the page cache
t_load=$(secs fasttext predict "$tmp/thuc/ft.bin" "$tmp/thuc/one.txt")
t_load2=$(secs fasttext predict "$tmp/thuc/ft.bin" "$tmp/thuc/one.txt")
t_load=$(echo "$t_load $t_load2" | awk '{print ($1 < $2) ? $1 : $2}') # the faster load
t_all=$(secs fasttext predict "$tmp/thuc/ft.bin" "$tmp/thuc/many.txt")
ft_rate=$(echo "$n_test $REPEAT $t_all $t_load" | awk '{d = $3 - $4; if (d <= 0) d = 0.001; printf "%d", $1 * $2 / d}')
ft_size=$(du -m "$tmp/thuc/ft.bin" | awk '{print $1}')
echo "$cd_acc $cd_rate $ft_acc $ft_rate $ft_size" | awk '{
	printf "thucnews: citydesk acc %s (%d titles/s)  fastText acc %s (%d titles/s, model %d MB)  ratios %.2f / %.2f\n",
	       $1, $2, $3, $4, $5, $1 / $3, $2 / $4 }'
sed 's/^/  /' "$tmp/cd.out"
rm -f "$tmp/thuc/ft.bin" "$tmp/thuc/ft.vec"

[ "${1:-}" = "--no-cv" ] && exit 0
if [ ! -f "$MSGS" ]; then
	echo "messages: skipped ($MSGS missing)"
	exit 0
fi
"$OUT/bench_classify" cv "$MSGS" "$TAX" --folds 5 --nested --fasttext-out "$tmp/cv" >"$tmp/cv.out"
cv_line=$(grep '^nested:' "$tmp/cv.out")
f=0
: >"$tmp/cv/pairs"
while [ $f -lt 5 ]; do
	fasttext supervised -input "$tmp/cv/fold$f.train" -output "$tmp/cv/ft" -wordNgrams 2 -epoch 25 \
		-lr 1.0 -bucket 200000 -thread 2 -verbose 0 >/dev/null 2>&1
	fasttext predict "$tmp/cv/ft.bin" "$tmp/cv/fold$f.test" >"$tmp/cv/pred"
	awk '{print $1}' "$tmp/cv/fold$f.test" | paste - "$tmp/cv/pred" >>"$tmp/cv/pairs"
	rm -f "$tmp/cv/ft.bin" "$tmp/cv/ft.vec"
	f=$((f + 1))
done
ft_cv=$(awk -F'\t' '{ n++; if ($1 == $2) { ok++; tp[$1]++ } np[$2]++; nt[$1]++ }
	END { for (l in nt) { p = np[l] ? tp[l] / np[l] : 0; r = tp[l] / nt[l];
	      f1 += (p + r > 0) ? 2 * p * r / (p + r) : 0; k++ }
	      printf "acc %.3f macro-F1 %.3f", ok / n, f1 / k }' "$tmp/cv/pairs")
cd_cv=$(echo "$cv_line" | awk '{print "acc", $4, "macro-F1", $6}')
echo "messages 5-fold CV: citydesk $cd_cv  fastText $ft_cv"
sed 's/^/  /' "$tmp/cv.out"
