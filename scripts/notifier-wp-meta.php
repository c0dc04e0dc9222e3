<?php
/**
 * Plugin Name: notifier comment meta
 * Description: Lets notifier read comment flags over the REST API. Drop this file into wp-content/mu-plugins/.
 *
 * notifier reads flags from comment meta.  Its database source needs nothing on
 * the site; its REST source (NOTIFIER_SOURCE_KIND=wordpress-rest) needs this
 * file, because WordPress exposes comment meta over REST only for registered
 * keys and never exposes meta_id, which notifier uses as the flag id.
 *
 * It does two things:
 *  1. registers the flag meta keys with show_in_rest, so moderators can read
 *     and set them through /wp/v2/comments (edit_comment capability);
 *  2. adds GET /notifier/v1/comment-meta?keys=a,b&after=N&per_page=M, which
 *     lists comment meta rows (meta_id, comment_id, key, value) by increasing
 *     meta_id, for users who can moderate comments.  Protected keys (a leading
 *     underscore) are never listed.
 *
 * Configure the keys to match NOTIFIER_WP_FLAG_META_KEYS and
 * NOTIFIER_WP_MEDICAL_META_KEY, either by defining the constant
 *   define( 'NOTIFIER_WP_META_KEYS', 'my_flag_key,notifier_medical_question' );
 * in wp-config.php, or with the 'notifier_wp_meta_keys' filter.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/** The meta keys to register: the constant, else notifier's defaults; then the filter. */
function notifier_wp_meta_keys() {
	$keys = defined( 'NOTIFIER_WP_META_KEYS' )
		? array_filter( array_map( 'trim', explode( ',', NOTIFIER_WP_META_KEYS ) ) )
		: array( 'notifier_flag', 'notifier_medical_question' );
	return array_values( array_unique( apply_filters( 'notifier_wp_meta_keys', $keys ) ) );
}

add_action(
	'init',
	function () {
		foreach ( notifier_wp_meta_keys() as $key ) {
			register_meta(
				'comment',
				$key,
				array(
					'type'          => 'string',
					'single'        => true,
					'show_in_rest'  => true,
					// Only someone who may edit the comment may set or clear its flag.
					'auth_callback' => function ( $allowed, $meta_key, $comment_id ) {
						return current_user_can( 'edit_comment', $comment_id );
					},
				)
			);
		}
	}
);

add_action(
	'rest_api_init',
	function () {
		register_rest_route(
			'notifier/v1',
			'/comment-meta',
			array(
				'methods'             => 'GET',
				'permission_callback' => function () {
					return current_user_can( 'moderate_comments' );
				},
				'args'                => array(
					'keys'     => array( 'type' => 'string', 'required' => true ),
					'after'    => array( 'type' => 'integer', 'default' => 0, 'minimum' => 0 ),
					'per_page' => array( 'type' => 'integer', 'default' => 100, 'minimum' => 1, 'maximum' => 1000 ),
				),
				'callback'            => 'notifier_wp_comment_meta',
			)
		);
	}
);

/**
 * Comment meta rows of the asked keys with meta_id > after, by increasing meta_id.
 *
 * Each row carries prior_max, the highest numeric value an earlier row of the
 * same comment and key held (null if none), so a client can tell the row at
 * which a counter first reached its threshold without reading older rows.
 */
function notifier_wp_comment_meta( WP_REST_Request $request ) {
	global $wpdb;
	$keys = array();
	foreach ( explode( ',', (string) $request['keys'] ) as $key ) {
		$key = trim( $key );
		// Protected meta (Akismet's history, for one) is not ours to publish.
		if ( '' !== $key && ! is_protected_meta( $key, 'comment' ) ) {
			$keys[] = $key;
		}
	}
	if ( ! $keys ) {
		return rest_ensure_response( array( 'max_meta_id' => 0, 'rows' => array() ) );
	}
	$in      = implode( ',', array_fill( 0, count( $keys ), '%s' ) );
	$numeric = "'^-?[0-9]+(\\\\.[0-9]+)?\$'";
	$max_id  = (int) $wpdb->get_var(
		// phpcs:ignore WordPress.DB.PreparedSQLPlaceholders -- $in is a list of %s.
		$wpdb->prepare( "SELECT COALESCE(MAX(meta_id), 0) FROM {$wpdb->commentmeta} WHERE meta_key IN ($in)", $keys )
	);
	// phpcs:ignore WordPress.DB.PreparedSQLPlaceholders -- $in is a list of %s.
	$sql  = $wpdb->prepare(
		"SELECT m.meta_id, m.comment_id, m.meta_key, m.meta_value,
		        (SELECT MAX(CAST(TRIM(p.meta_value) AS DECIMAL(30,6))) FROM {$wpdb->commentmeta} p
		         WHERE p.comment_id = m.comment_id AND p.meta_key = m.meta_key
		           AND p.meta_id < m.meta_id AND TRIM(p.meta_value) REGEXP $numeric) AS prior_max
		 FROM {$wpdb->commentmeta} m
		 WHERE m.meta_key IN ($in) AND m.meta_id > %d ORDER BY m.meta_id LIMIT %d",
		array_merge( $keys, array( (int) $request['after'], (int) $request['per_page'] ) )
	);
	$rows = array();
	foreach ( $wpdb->get_results( $sql ) as $row ) {
		$rows[] = array(
			'meta_id'    => (int) $row->meta_id,
			'comment_id' => (int) $row->comment_id,
			'key'        => $row->meta_key,
			'value'      => $row->meta_value,
			'prior_max'  => null === $row->prior_max ? null : (float) $row->prior_max,
		);
	}
	// max_meta_id: the highest id among rows of these keys, a safe starting cursor.
	return rest_ensure_response( array( 'max_meta_id' => $max_id, 'rows' => $rows ) );
}
