# @summary Installs the replayer's configuration and systemd unit and keeps the daemon running.
#
# The replayer captures production HTTP traffic passively (libpcap) and replays the safe
# requests (GET, HEAD, OPTIONS) to staging. The binary itself comes from your package
# (`package_name`) or is put in place by other means; this class writes
# `/etc/replayer/replayer.toml`, installs the hardened unit plus a drop-in with this host's
# user and command line, and manages the service.
#
# The daemon knows about the nightly data sync itself: while `sync_flag` says a sync is in
# progress it keeps running but replays nothing, and resumes by itself. There is no need to
# stop it from cron or to remove its Icinga checks during the sync.
#
# @example GOV.UK's setup (GoReplay on each cache host, behind the TLS terminator)
#   class { 'replayer':
#     input           => '127.0.0.1:7999',
#     targets         => ['https://www-origin.staging.example'],
#     allow_methods   => ['GET', 'HEAD', 'OPTIONS'],
#     disallow_urls   => ['apply-for-a-licence/payment', 'sign-in/callback'],
#     set_headers     => ['X-Forwarded-Host:'],
#     sync_flag       => '/etc/govuk/env.d/FACTER_data_sync_in_progress',
#     goreplay_compat => true,   # keeps `check_procs -C goreplay` and `service goreplay` working
#   }
#
# @param targets
#   Staging base URLs (`output-http`); every target gets every request. No scheme means http://.
# @param input
#   What to capture (`input-raw`): `[host]:port`, host an IP, an interface name or empty for
#   all interfaces.
# @param allow_methods
#   Methods to replay (`http-allow-method`). Anything beyond GET/HEAD/OPTIONS also needs
#   `allow_unsafe_methods`.
# @param allow_urls
#   Replay only request-targets matching one of these regexes (`http-allow-url`).
# @param disallow_urls
#   Never replay request-targets matching one of these regexes (`http-disallow-url`).
# @param set_headers
#   `Name: Value` headers to set on replayed requests (`http-set-header`); an empty value is allowed.
# @param bpf_filter
#   A BPF filter replacing the one derived from `input` (`input-raw-bpf-filter`).
# @param allow_unsafe_methods
#   Required in addition to naming any method other than GET, HEAD and OPTIONS.
# @param keep_credentials
#   Keep Authorization, Cookie and Proxy-Authorization (stripped by default).
# @param status_socket
#   The status socket the check plugins read.
# @param status_socket_mode
#   Its mode (octal string).
# @param status_socket_group
#   Its group: the user the checks run as (nagios for NRPE and the Icinga 2 agent on Debian).
#   The daemon is given this supplementary group so that it may hand the socket over; the
#   group must exist (the NRPE and Icinga 2 packages create nagios).
# @param sync_flag
#   The data-sync flag file: while its first line is set (not empty, false, 0 or no) replay pauses.
# @param sync_max_age
#   A flag set for longer than this is considered stale (the checks then warn).
# @param sync_window
#   A daily UTC window, `HH:MM-HH:MM`, that counts as a sync in progress by itself (replay
#   pauses), for sites that gate by time rather than by the flag.
# @param diff
#   Compare staging's answers with production's (`diff = true`; docs/diff.md), for the
#   replayer-diff check (replayer::icinga's `diff`).
# @param extra_options
#   Any other configuration keys, written as they are (e.g. `{ 'output-http-timeout' => '5s' }`).
# @param goreplay_compat
#   Run the daemon through a `goreplay` symlink (process named goreplay, as GoReplay was) and
#   alias the unit as goreplay.service. Turning it off again leaves the two symlinks (remove
#   them by hand): Puppet never deletes files named goreplay, which may be GoReplay's own.
# @param binary
#   The replayer binary.
# @param config_file
#   Where the configuration is written.
# @param user
#   The dedicated user the daemon runs as.
# @param group
#   Its primary group.
# @param root
#   A directory every managed path is put under; empty on real hosts. Lets the module be
#   rendered into a scratch directory (tests) without touching the system.
# @param manage_user
#   Create `user` and `group`. Defaults to true on real hosts (`root` empty).
# @param manage_service
#   Manage the systemd service. Defaults to true on real hosts (`root` empty).
# @param service_ensure
#   `running` or `stopped`.
# @param service_enable
#   Start at boot.
# @param package_name
#   A package to install first, if the binary comes from one.
class replayer (
  Array[String[1], 1] $targets,
  Pattern[/:\d+\z/] $input = ':80',
  Array[String[1], 1] $allow_methods = ['GET', 'HEAD', 'OPTIONS'],
  Array[String[1]] $allow_urls = [],
  Array[String[1]] $disallow_urls = [],
  Array[String[1]] $set_headers = [],
  Optional[String[1]] $bpf_filter = undef,
  Boolean $allow_unsafe_methods = false,
  Boolean $keep_credentials = false,
  Pattern[/\A\//] $status_socket = '/run/replayer/status.sock',
  Pattern[/\A0?[0-7]{3}\z/] $status_socket_mode = '0660',
  String[1] $status_socket_group = 'nagios',
  Pattern[/\A\//] $sync_flag = '/etc/govuk/env.d/FACTER_data_sync_in_progress',
  String[1] $sync_max_age = '12h',
  Optional[Pattern[/\A\d{1,2}:\d{1,2}-\d{1,2}:\d{1,2}\z/]] $sync_window = undef,
  Boolean $diff = false,
  Hash[Pattern[/\A[A-Za-z0-9_-]+\z/], Variant[String, Integer, Float, Boolean, Array[String]]] $extra_options = {},
  Boolean $goreplay_compat = false,
  Pattern[/\A\//] $binary = '/usr/bin/replayer',
  Pattern[/\A\//] $config_file = '/etc/replayer/replayer.toml',
  String[1] $user = 'replayer',
  String[1] $group = 'replayer',
  Variant[Enum[''], Pattern[/\A\/.*[^\/]\z/]] $root = '',
  Boolean $manage_user = ($root == ''),
  Boolean $manage_service = ($root == ''),
  Enum['running', 'stopped'] $service_ensure = 'running',
  Boolean $service_enable = true,
  Optional[String[1]] $package_name = undef,
) {
  # A key twice in the file would be refused by the daemon: say so here, naming it.
  $managed_keys = [
    'input-raw', 'output-http', 'http-allow-method', 'http-allow-url', 'http-disallow-url',
    'http-set-header', 'input-raw-bpf-filter', 'allow-unsafe-methods', 'keep-credentials',
    'status-socket', 'status-socket-mode', 'status-socket-group', 'sync-flag',
    'sync-max-age', 'sync-window', 'diff',
  ]
  $clashes = $extra_options.keys.filter |$key| { $key in $managed_keys }
  unless $clashes.empty {
    fail("replayer: extra_options ${clashes.join(', ')}: set through the class parameters instead")
  }

  $unit_dir = "${root}/etc/systemd/system"
  $config_dir = "${root}${config_file.regsubst(/\/[^\/]*\z/, '')}"
  $bin_dir = $binary.regsubst(/\/[^\/]*\z/, '')
  $bin_name = $binary.regsubst(/\A.*\//, '')
  $run_binary = $goreplay_compat ? {
    true    => "${bin_dir}/goreplay",
    default => $binary,
  }

  if $package_name {
    package { $package_name:
      ensure => installed,
      before => File["${root}${config_file}"],
    }
  }

  if $manage_user {
    group { $group:
      ensure => present,
      system => true,
    }
    user { $user:
      ensure     => present,
      system     => true,
      gid        => $group,
      home       => '/nonexistent',
      managehome => false,
      shell      => '/usr/sbin/nologin',
      require    => Group[$group],
      before     => File["${root}${config_file}"],
    }
  }

  # In a scratch root nothing exists yet; on a host these directories do, owned by others.
  if $root != '' {
    exec { 'replayer: scratch root directories':
      command => ['/bin/mkdir', '-p', $unit_dir, "${root}${bin_dir}", $config_dir],
      creates => [$unit_dir, "${root}${bin_dir}", $config_dir],
      before  => File["${unit_dir}/replayer.service.d"],
    }
  }
  file { "${unit_dir}/replayer.service.d":
    ensure => directory,
  }
  # Our own directory (/etc/replayer), but not a shared one like /etc.
  if $config_dir =~ /replayer[^\/]*\z/ {
    file { $config_dir:
      ensure => directory,
      before => File["${root}${config_file}"],
    }
  }

  # Nothing secret in here (URLs and filters), so readable by all like most of /etc.
  file { "${root}${config_file}":
    ensure  => file,
    owner   => 'root',
    mode    => '0644',
    content => epp('replayer/replayer.toml.epp', {
      'input'                => $input,
      'targets'              => $targets,
      'allow_methods'        => $allow_methods,
      'allow_urls'           => $allow_urls,
      'disallow_urls'        => $disallow_urls,
      'set_headers'          => $set_headers,
      'bpf_filter'           => $bpf_filter,
      'allow_unsafe_methods' => $allow_unsafe_methods,
      'keep_credentials'     => $keep_credentials,
      'status_socket'        => $status_socket,
      'status_socket_mode'   => $status_socket_mode,
      'status_socket_group'  => $status_socket_group,
      'sync_flag'            => $sync_flag,
      'sync_max_age'         => $sync_max_age,
      'sync_window'          => $sync_window,
      'diff'                 => $diff,
      'extra_options'        => $extra_options,
    }),
  }

  # The unit as shipped (hardening, capabilities, restart policy), and a drop-in with what
  # is this host's: user, command line, socket directory.
  file { "${unit_dir}/replayer.service":
    ensure  => file,
    mode    => '0644',
    content => file('replayer/systemd/replayer.service'),
  }
  file { "${unit_dir}/replayer.service.d/puppet.conf":
    ensure  => file,
    mode    => '0644',
    content => epp('replayer/replayer.service.d.conf.epp', {
      'run_binary'          => $run_binary,
      'config_file'         => $config_file,
      'user'                => $user,
      'group'               => $group,
      'status_socket'       => $status_socket,
      'status_socket_group' => $status_socket_group,
    }),
  }

  # Only ever created, never removed: without goreplay_compat a host may still have GoReplay
  # itself under these names, which is not ours to delete.
  if $goreplay_compat {
    file { "${root}${bin_dir}/goreplay":
      ensure => link,
      target => $bin_name,
    }
    # An alias: `service goreplay start` and `systemctl status goreplay` act on replayer.service.
    file { "${unit_dir}/goreplay.service":
      ensure => link,
      target => 'replayer.service',
    }
  }

  if $manage_service {
    # Puppet's systemd provider reloads systemd when a unit file changed.
    service { 'replayer':
      ensure    => $service_ensure,
      enable    => $service_enable,
      subscribe => [
        File["${root}${config_file}"],
        File["${unit_dir}/replayer.service"],
        File["${unit_dir}/replayer.service.d/puppet.conf"],
      ],
    }
  }
}
