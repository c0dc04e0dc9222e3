#!/usr/bin/env bash
# A real WordPress site on loopback for notifier's tests and CI (idempotent).
#
# Installs Debian's wordpress package (6.1) with PHP if missing, creates its
# database on the MariaDB at 127.0.0.1:3306 (root, no password), installs the
# site, an administrator with an Application Password and one published post,
# and serves it with `php -S 127.0.0.1:PORT` in the background.
#
# stdout: KEY=value lines for the tests (also written to $STATE_DIR/env).
# stderr: everything else.  Exit status 0, or 2 when PHP cannot be installed.
# `scripts/wordpress-setup.sh stop` stops the server (the database stays).
#
# Environment (deliberately not NOTIFIER_*: notifier rejects unknown NOTIFIER_ variables):
#   WP_TEST_PORT (8089)  WP_TEST_DB (notifier_wp)  WP_TEST_TABLE_PREFIX (wp_)
#   WP_TEST_STATE_DIR (<repo>/.wordpress, git-ignored)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${WP_TEST_PORT:-8089}"
DB_NAME="${WP_TEST_DB:-notifier_wp}"
TABLE_PREFIX="${WP_TEST_TABLE_PREFIX:-wp_}"
STATE_DIR="${WP_TEST_STATE_DIR:-$REPO_ROOT/.wordpress}"
DB_HOST=127.0.0.1
DB_PORT=3306
ADMIN_USER=notifier-admin
SITE_URL="http://127.0.0.1:$PORT"
WP_ROOT=/usr/share/wordpress
# Debian's wp-config.php picks /etc/wordpress/config-<Host header without port>.php,
# so every site served as 127.0.0.1 (any port) reads this one file.
WP_CONFIG=/etc/wordpress/config-127.0.0.1.php

log() { echo "wordpress-setup: $*" >&2; }
die() { log "error: $*"; exit "${2:-1}"; }

# php -S runs in its own session (setsid), so its pid is also the id of the
# process group that holds its workers: signal the group, not just the pid.
pid_file="$STATE_DIR/php-server.pid"
running() { [[ -f "$pid_file" ]] && kill -0 -- "-$(cat "$pid_file")" 2>/dev/null; }
if [[ "${1:-}" == stop ]]; then
    if running; then
        kill -- "-$(cat "$pid_file")"
        log "stopped the server on port $PORT"
    fi
    rm -f "$pid_file"
    exit 0
fi

[[ "$PORT" =~ ^[0-9]+$ ]] || die "WP_TEST_PORT must be a number, not '$PORT'"
[[ "$DB_NAME" =~ ^[A-Za-z0-9_]+$ ]] || die "WP_TEST_DB must be letters, digits and _"
[[ "$TABLE_PREFIX" =~ ^[A-Za-z0-9_]+$ ]] || die "WP_TEST_TABLE_PREFIX must be letters, digits and _"

# --- 1. packages ------------------------------------------------------------
have_php() {
    # Not `grep -q`: it would exit at the first match, php would die of SIGPIPE,
    # and pipefail would call PHP missing when it is there.
    command -v php >/dev/null 2>&1 && php -m 2>/dev/null | grep -x mysqli >/dev/null \
        && [[ -f "$WP_ROOT/wp-includes/version.php" ]]
}

if ! have_php; then
    [[ "$(id -u)" == 0 ]] || die "PHP/WordPress are missing and installing them needs root \
(apt-get install wordpress php-cli php-mysql)" 2
    log "installing wordpress php-cli php-mysql with apt-get"
    # The wordpress package pulls in apache2; keep its service from starting so
    # nothing but our loopback php -S listens.  Only when no policy exists yet.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
    fi
    status=0
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
        wordpress php-cli php-mysql; } >&2 || status=$?
    [[ "$made_policy" == 1 ]] && rm -f "$policy"
    [[ "$status" == 0 ]] && have_php \
        || die "could not install PHP and WordPress with apt-get (status $status); \
the WordPress tests need Debian's wordpress, php-cli and php-mysql packages" 2
fi
command -v mysql >/dev/null 2>&1 || die "the mysql client is missing (apt-get install mariadb-client)"

# --- 2. database and configuration -----------------------------------------
mkdir -p "$STATE_DIR/mu-plugins"
mysql -h "$DB_HOST" -P "$DB_PORT" -uroot -e \
    "CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" \
    || die "cannot create database $DB_NAME on $DB_HOST:$DB_PORT as root"

# Salts are made once and kept, so re-running does not log everyone out.
if [[ ! -s "$STATE_DIR/salts.php" ]]; then
    php -r 'echo "<?php\n"; foreach (["AUTH_KEY","SECURE_AUTH_KEY","LOGGED_IN_KEY","NONCE_KEY",
        "AUTH_SALT","SECURE_AUTH_SALT","LOGGED_IN_SALT","NONCE_SALT"] as $k)
        printf("define(%s, %s);\n", var_export($k, true), var_export(bin2hex(random_bytes(32)), true));' \
        >"$STATE_DIR/salts.php"
fi

config="<?php
// Written by notifier's scripts/wordpress-setup.sh: a throwaway test site on loopback.
define('DB_NAME', '$DB_NAME');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', '$DB_HOST:$DB_PORT');
define('DB_CHARSET', 'utf8mb4');
\$table_prefix = '$TABLE_PREFIX';
define('WP_HOME', '$SITE_URL');
define('WP_SITEURL', '$SITE_URL');
// Application Passwords need https, or this environment type.
define('WP_ENVIRONMENT_TYPE', 'local');
// The test site's own mu-plugins live in the state dir, not in the shared
// /var/lib/wordpress/wp-content, so no other site on the machine loads them.
define('WPMU_PLUGIN_DIR', '$STATE_DIR/mu-plugins');
define('WPMU_PLUGIN_URL', '$SITE_URL/wp-content/mu-plugins');
// Nothing may leave loopback: no update checks, no pings, no cron requests.
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('DISABLE_WP_CRON', true);
define('NOTIFIER_WP_META_KEYS', 'notifier_flag,notifier_flag_count,notifier_medical_question');
require '$STATE_DIR/salts.php';
"
if ! printf '%s' "$config" | cmp -s - "$WP_CONFIG"; then
    log "writing $WP_CONFIG"
    printf '%s' "$config" >"$WP_CONFIG"
fi

# The mu-plugins: the operator's plugin as shipped, and test-only switches.
cp "$REPO_ROOT/scripts/notifier-wp-meta.php" "$STATE_DIR/mu-plugins/notifier-wp-meta.php"
cat >"$STATE_DIR/mu-plugins/notifier-test-site.php" <<'PHP'
<?php
/**
 * Plugin Name: notifier test site
 * Description: For notifier's throwaway test site only: tests post comments seconds apart.
 */
add_filter( 'comment_flood_filter', '__return_false', PHP_INT_MAX );
PHP

# php -S has no rewrite rules: send every path that is not a file to index.php,
# as Apache's .htaccess would, so /wp-json/ and pretty permalinks work.
cat >"$STATE_DIR/router.php" <<'PHP'
<?php
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$file = $_SERVER['DOCUMENT_ROOT'] . $path;
if ($path !== '/' && (is_file($file) || is_file(rtrim($file, '/') . '/index.php'))) {
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $_SERVER['DOCUMENT_ROOT'] . '/index.php';
chdir($_SERVER['DOCUMENT_ROOT']);
require 'index.php';
PHP

# --- 3. install the site (a php CLI script; WordPress decides what is missing) --
old_password=""
if [[ -f "$STATE_DIR/env" ]]; then
    old_password="$(sed -n 's/^WP_APP_PASSWORD=//p' "$STATE_DIR/env")"
fi
install_out="$(
    WP_TEST_HOST="127.0.0.1:$PORT" WP_TEST_ROOT="$WP_ROOT" WP_TEST_ADMIN="$ADMIN_USER" \
    WP_TEST_OLD_PASSWORD="$old_password" php <<'PHP'
<?php
// Debian's wp-config.php chooses its config file by the Host header.
$_SERVER['HTTP_HOST'] = getenv('WP_TEST_HOST');
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
define('WP_INSTALLING', true);
// STDERR is not defined when PHP reads its script from stdin.
function say($text) { file_put_contents('php://stderr', "wordpress-setup: $text\n"); }
// wp_install() would mail the admin; there is no one to mail.
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password) {}
require getenv('WP_TEST_ROOT') . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

$admin = getenv('WP_TEST_ADMIN');
if (!is_blog_installed()) {
    say("installing WordPress {$GLOBALS['wp_version']}");
    $result = wp_install('notifier test site', $admin, 'admin@example.com', false, '',
                         wp_generate_password(24));
    if (is_wp_error($result)) { say($result->get_error_message()); exit(1); }
}
$user = get_user_by('login', $admin);
if (!$user) {
    $id = wp_create_user($admin, wp_generate_password(24), 'admin@example.com');
    if (is_wp_error($id)) { say($id->get_error_message()); exit(1); }
    $user = get_user_by('id', $id);
}
$user->set_role('administrator');

// Readers' comments wait for a moderator, whoever wrote them before.
update_option('comment_moderation', 1);
update_option('comment_previously_approved', 0);
update_option('comment_registration', 0);
update_option('require_name_email', 1);
update_option('close_comments_for_old_posts', 0);
update_option('comments_notify', 0);
update_option('moderation_notify', 0);
update_option('default_comment_status', 'open');
// Pretty permalinks so the REST API answers at /wp-json/ (the router does the rewriting).
if (get_option('permalink_structure') !== '/%postname%/') {
    global $wp_rewrite;
    $wp_rewrite->set_permalink_structure('/%postname%/');
}
flush_rewrite_rules(false);

$post = get_page_by_path('notifier-test-post', OBJECT, 'post');
if (!$post) {
    $post_id = wp_insert_post([
        'post_title' => 'Living with myeloma: your questions',
        'post_name' => 'notifier-test-post',
        'post_content' => 'A post for notifier tests to comment on.',
        'post_status' => 'publish',
        'post_author' => $user->ID,
        'comment_status' => 'open',
    ], true);
    if (is_wp_error($post_id)) { say($post_id->get_error_message()); exit(1); }
} else {
    $post_id = $post->ID;
}

// An Application Password is shown only when made: keep the last one if it
// still matches, else replace ours with a new one.
$name = 'notifier-tests';
$password = getenv('WP_TEST_OLD_PASSWORD');
$valid = false;
foreach (WP_Application_Passwords::get_user_application_passwords($user->ID) as $item) {
    if ($item['name'] === $name && $password !== '' && wp_check_password($password, $item['password'])) {
        $valid = true;
    }
}
if (!$valid) {
    foreach (WP_Application_Passwords::get_user_application_passwords($user->ID) as $item) {
        if ($item['name'] === $name) {
            WP_Application_Passwords::delete_application_password($user->ID, $item['uuid']);
        }
    }
    $made = WP_Application_Passwords::create_new_application_password($user->ID, ['name' => $name]);
    if (is_wp_error($made)) { say($made->get_error_message()); exit(1); }
    $password = $made[0];
}
echo "WP_VERSION={$GLOBALS['wp_version']}\n";
echo "WP_ADMIN_USER=$admin\n";
echo "WP_APP_PASSWORD=$password\n";
echo "WP_POST_ID=$post_id\n";
PHP
)" || die "installing the WordPress site failed (see above)"

# --- 4. serve it ------------------------------------------------------------
answers() {
    # The site's own REST index, so another program on the port does not count.
    php -r '$c = stream_context_create(["http" => ["timeout" => 2, "ignore_errors" => true]]);
        $b = @file_get_contents($argv[1] . "/wp-json/", false, $c);
        exit($b !== false && strpos($b, "\"notifier test site\"") !== false ? 0 : 1);' "$SITE_URL"
}
if ! running; then
    if answers; then
        # Another checkout's test server (same site, same database; only the config
        # file was just pointed here): a throw-away, so replace it.
        log "stopping another checkout's test server on port $PORT"
        pkill -f "php -S 127.0.0.1:$PORT -t $WP_ROOT " || true
        for _ in $(seq 1 50); do answers || break; sleep 0.1; done
        answers && die "something else serves a notifier test site on port $PORT (not $pid_file)"
    fi
    log "serving $SITE_URL with php -S (log: $STATE_DIR/php-server.log)"
    rm -f "$pid_file"
    # setsid: the server outlives this script, outside the caller's process group.
    # The new session's leader writes its own pid (= the group id), then becomes php.
    # Several workers, because one request may wait on another.
    PHP_CLI_SERVER_WORKERS=4 setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pid_file" \
        php -S "127.0.0.1:$PORT" -t "$WP_ROOT" "$STATE_DIR/router.php" \
        >"$STATE_DIR/php-server.log" 2>&1 </dev/null &
    for _ in $(seq 1 50); do [[ -s "$pid_file" ]] && break; sleep 0.1; done
fi
for _ in $(seq 1 100); do
    answers && break
    running || die "php -S exited; see $STATE_DIR/php-server.log"
    sleep 0.1
done
answers || die "$SITE_URL did not answer within 10 seconds"

# --- 5. tell the tests ------------------------------------------------------
{
    echo "WP_SITE_URL=$SITE_URL"
    echo "WP_DB_URL=mysql://root@$DB_HOST:$DB_PORT/$DB_NAME"
    echo "WP_TABLE_PREFIX=$TABLE_PREFIX"
    echo "$install_out"
} >"$STATE_DIR/env.tmp"
chmod 600 "$STATE_DIR/env.tmp"
mv "$STATE_DIR/env.tmp" "$STATE_DIR/env"
cat "$STATE_DIR/env"
