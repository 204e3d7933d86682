/* A plain main() for fuzz targets: runs LLVMFuzzerTestOneInput over every file named on the
 * command line (directories are walked one level deep), so corpora replay under ASan/UBSan
 * without libFuzzer. Prints "fuzz replay <target>: N passed, N failed"; a crash is a failure
 * the sanitizer reports itself (and ends the run). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int passed, failed;

static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		failed++;
		return;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || st.st_size > 64 * 1024 * 1024) {
		fprintf(stderr, "cannot size %s\n", path);
		fclose(f);
		failed++;
		return;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *data = xmalloc(n ? n : 1);
	size_t got = fread(data, 1, n, f);
	fclose(f);
	if (got != n) {
		fprintf(stderr, "short read on %s\n", path);
		failed++;
	} else {
		LLVMFuzzerTestOneInput(data, n); /* a bug aborts here under the sanitizers */
		passed++;
	}
	xfree(data);
}

static void run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "no such file %s\n", path);
		failed++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(path);
		return;
	}
	DIR *d = opendir(path);
	if (!d) {
		failed++;
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char full[4096];
		int k = snprintf(full, sizeof full, "%s/%s", path, e->d_name);
		if (k < 0 || (size_t)k >= sizeof full)
			continue;
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
			run_file(full);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		run_path(argv[i]);
	const char *name = strrchr(argv[0], '/');
	printf("fuzz replay %s: %d passed, %d failed\n", name ? name + 1 : argv[0], passed, failed);
	return failed ? 1 : 0;
}
