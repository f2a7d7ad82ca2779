/*
 * main.c - sealpostd, the relay worker: options, config, logging, signals,
 * privilege drop, then one of --once, --check-config, --probe, --health
 * or the daemon. The only program that links GnuTLS and reads relay credentials.
 * Started as root it drops to the "sealpost" user, or refuses to run when
 * that user does not exist, unless --allow-root says root is intended;
 * started by the front end it runs as the caller.
 */
#include "config.h"

#include "conf.h"
#include "daemon.h"
#include "health.h"
#include "log.h"
#include "pickup.h"
#include "privdrop.h"
#include "preflight.h"
#include "probe.h"
#include "queue_run.h"
#include "tls.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	reload_flag = 1;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop; /* no SA_RESTART: waits return EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sealpostd [-C FILE] [-v] [-d] [--pid-file FILE]\n"
		"                                                run as a daemon (foreground unless -d)\n"
		"       sealpostd [-C FILE] [-v] --once [--flush] [--id ID]\n"
		"                                                deliver what is due, then exit\n"
		"       sealpostd [-C FILE] --check-config       validate and print the settings\n"
		"       sealpostd [-C FILE] [-v] --probe         test each relay, send no mail\n"
		"       sealpostd [-C FILE] --health [--max-age DURATION]\n"
		"                                                exit 0 when mail flows, else 1 and why\n"
		"options:\n"
		"  -C FILE          config file (default %s)\n"
		"  -v               log to stderr too; twice: trace the SMTP dialogue\n"
		"  -d, --daemonize  detach from the terminal\n"
		"  --pid-file FILE  daemon: write its pid to FILE (removed at a clean stop)\n"
		"  --once           one queue run (same as sealpost -q)\n"
		"  --flush          with --once: retry deferred messages now\n"
		"  --id ID          with --once: only this message; exit 0 delivered,\n"
		"                   75 still queued, 69 failed\n"
		"  --lock-fd N      with --id: descriptor N holds the message's lock\n"
		"                   (sealpost -odi passes it so a daemon cannot race)\n"
		"  --allow-root     started as root: stay root (containers, root's own\n"
		"                   spool); without it root drops to the worker user\n"
		"                   and refuses to run when that user does not exist\n"
		"  --max-age DURATION  with --health: the oldest a queued message may be\n"
		"                   (default 1h; seconds or with s, m, h, d)\n"
		"  -h, --help       this text\n"
		"  -V, --version    print the version\n",
		conf_default_path());
}

enum mode { MODE_DAEMON, MODE_ONCE, MODE_CHECK, MODE_PROBE, MODE_HEALTH };

/* --check-config: the effective settings, then whether each relay's TLS
 * policy can be applied (trust store, client key, priority string). */
static int check_config(const struct sp_config *cfg, const char *conf_path)
{
	conf_dump(cfg, stdout);
	fflush(stdout);
	int st = 0;
	if (cfg->nrelays == 0) {
		fprintf(stderr, "sealpostd: %s: no relay configured: sealpostd cannot deliver\n", conf_path);
		st = EX_CONFIG;
	}
	char err[512];
	if (tls_global_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "sealpostd: %s\n", err);
		return EX_SOFTWARE;
	}
	for (size_t i = 0; i < cfg->nrelays; i++) {
		const struct sp_relay *r = &cfg->relays[i];
		const struct sp_tls_policy *pol = conf_policy_for(cfg, r->host);
		if (tls_policy_check(pol, r->host, err, sizeof(err)) < 0) {
			fprintf(stderr, "sealpostd: %s: relay \"%s\": TLS policy cannot be applied: %s\n", conf_path,
				r->name, err);
			st = EX_CONFIG;
		}
		struct buf warn;
		buf_init(&warn);
		tls_policy_warnings(pol, &warn);
		for (char *line = warn.data, *nl; line && (nl = strchr(line, '\n')); line = nl + 1)
			fprintf(stderr, "sealpostd: %s: relay \"%s\": warning: %.*s\n", conf_path, r->name,
				(int)(nl - line), line);
		buf_free(&warn);
	}
	tls_global_deinit();
	if (st == 0) /* what the worker needs, as the worker's user */
		st = preflight_run(cfg, conf_path);
	return st;
}

int main(int argc, char **argv)
{
	ensure_std_fds();
	umask(027);
	enum { OPT_ONCE = 256, OPT_CHECK, OPT_PROBE, OPT_ID, OPT_FLUSH, OPT_PIDFILE, OPT_LOCKFD, OPT_ALLOW_ROOT,
	       OPT_HEALTH, OPT_MAXAGE };
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "probe", no_argument, NULL, OPT_PROBE },
		{ "id", required_argument, NULL, OPT_ID },
		{ "flush", no_argument, NULL, OPT_FLUSH },
		{ "pid-file", required_argument, NULL, OPT_PIDFILE },
		{ "lock-fd", required_argument, NULL, OPT_LOCKFD },
		{ "allow-root", no_argument, NULL, OPT_ALLOW_ROOT },
		{ "health", no_argument, NULL, OPT_HEALTH },
		{ "max-age", required_argument, NULL, OPT_MAXAGE },
		{ "daemonize", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf_path = NULL;
	const char *only_id = NULL;
	const char *pid_path = NULL;
	int lock_fd = -1;
	unsigned max_age = HEALTH_DEFAULT_MAX_AGE;
	bool max_age_set = false;
	enum mode mode = MODE_DAEMON;
	int modes = 0, verbose = 0;
	bool detach = false, flush = false, allow_root = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "C:dvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'C': conf_path = optarg; break;
		case 'd': detach = true; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("sealpostd %s\n", PACKAGE_VERSION); return 0;
		case OPT_ONCE: mode = MODE_ONCE; modes++; break;
		case OPT_CHECK: mode = MODE_CHECK; modes++; break;
		case OPT_PROBE: mode = MODE_PROBE; modes++; break;
		case OPT_ID: only_id = optarg; break;
		case OPT_FLUSH: flush = true; break;
		case OPT_PIDFILE: pid_path = optarg; break;
		case OPT_ALLOW_ROOT: allow_root = true; break;
		case OPT_HEALTH: mode = MODE_HEALTH; modes++; break;
		case OPT_MAXAGE:
			if (!conf_parse_duration(optarg, &max_age) || max_age == 0) {
				fprintf(stderr, "sealpostd: --max-age needs a duration (seconds, or with s, m, h, d)\n");
				return EX_USAGE;
			}
			max_age_set = true;
			break;
		case OPT_LOCKFD: {
			uint64_t v;
			if (!parse_u64(optarg, &v) || v < 3 || v > 65535) {
				fprintf(stderr, "sealpostd: --lock-fd needs a descriptor number\n");
				return EX_USAGE;
			}
			lock_fd = (int)v;
			break;
		}
		default:
			if (optopt && optopt < 256)
				fprintf(stderr, "sealpostd: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "sealpostd: unknown option %s\n", argv[optind - 1]);
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sealpostd: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	if (modes > 1 || ((only_id || flush) && mode != MODE_ONCE) || (lock_fd >= 0 && !only_id) ||
	    ((detach || pid_path) && mode != MODE_DAEMON) || (max_age_set && mode != MODE_HEALTH)) {
		fprintf(stderr, "sealpostd: conflicting options\n");
		usage(stderr);
		return EX_USAGE;
	}
	if (!conf_path)
		conf_path = conf_default_path();
	privdrop_set_allow_root(allow_root);

	struct sp_config *cfg = NULL;
	char err[512];
	if (conf_load(conf_path, false, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "sealpostd: %s\n", err);
		if (mode == MODE_HEALTH) { /* a health check says why on stdout, exit 1 */
			printf("CRITICAL: configuration error: %s\n", err);
			return 1;
		}
		return EX_CONFIG;
	}
	if (mode == MODE_HEALTH) { /* reads only: no log, no TLS, no privilege change */
		int st = health_check(cfg, max_age, stdout);
		conf_free(cfg);
		return st;
	}
	if (mode == MODE_CHECK) {
		int st = check_config(cfg, conf_path);
		conf_free(cfg);
		return st;
	}
	if (cfg->nrelays == 0) {
		fprintf(stderr, "sealpostd: %s: no relay configured (add a relay \"NAME\" { host = ... } section)\n",
			conf_path);
		conf_free(cfg);
		return EX_CONFIG;
	}
	if (log_open("sealpostd", cfg->log, cfg->log_format && strcmp(cfg->log_format, "json") == 0) < 0) {
		fprintf(stderr, "sealpostd: %s: invalid log target \"%s\"\n", conf_path, cfg->log ? cfg->log : "");
		conf_free(cfg);
		return EX_CONFIG;
	}
	/* the foreground daemon and -v also log to stderr */
	log_also_stderr(verbose > 0 || (mode == MODE_DAEMON && !detach));
	install_signals();
	if (tls_global_init(err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "%s", err);
		conf_free(cfg);
		return EX_SOFTWARE;
	}
	/* the pid file is opened with our original rights (e.g. in /run) and
	 * written once the daemon holds the spool lock; O_TRUNC would clobber
	 * a running daemon's file before the lock tells us it runs */
	int pid_fd = -1;
	if (pid_path) {
		pid_fd = open(pid_path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (pid_fd < 0) {
			fprintf(stderr, "sealpostd: cannot open the pid file %s: %s\n", pid_path, strerror(errno));
			conf_free(cfg);
			return EX_CANTCREAT;
		}
	}
	tls_policy_preload(cfg); /* trust stores and client keys: before the drop */
	bool started_as_root = geteuid() == 0;
	if (privdrop_worker(allow_root) < 0) { /* root never talks to the network unless told */
		if (pid_fd >= 0)
			close(pid_fd);
		conf_free(cfg);
		return EX_NOPERM;
	}
	if (started_as_root && (mode == MODE_DAEMON || verbose)) /* say which, once */
		log_msg(LOG_NOTICE, geteuid() == 0 ? "running as root (--allow-root)"
						  : "started as root: running as \"%s\" (uid %lu, gid %lu)",
			privdrop_user(), (unsigned long)getuid(), (unsigned long)getgid());

	int status = 0;
	bool trace = verbose > 1;
	if (mode == MODE_PROBE) {
		if ((status = preflight_run(cfg, conf_path)) == 0)
			status = probe_relays(cfg, trace, stdout);
	} else if (mode == MODE_ONCE) {
		if (pickup_run(cfg) < 0) /* what sealpost-drop left first */
			log_msg(LOG_ERR, "cannot read %s/maildrop: %s", cfg->spool_dir, strerror(errno));
		struct run_options ro = { .flush = flush, .only_id = only_id, .trace = trace, .stop = &stop_flag,
					 .lock_fd = lock_fd };
		int id_status = 0;
		status = queue_run(cfg, &ro, &id_status);
		if (status == 0 && only_id)
			status = id_status;
	} else {
		struct daemon_options dopt = {
			.conf_path = conf_path, .detach = detach, .trace = trace,
			.pid_fd = pid_fd, .pid_path = pid_path,
			.stop = &stop_flag, .reload = &reload_flag,
		};
		status = daemon_run(&cfg, &dopt);
	}
	tls_global_deinit();
	conf_free(cfg);
	log_close();
	return status;
}
