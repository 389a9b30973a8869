# @summary The Icinga 2 checks for one host running the replayer: a Host object whose vars
#   make the apply rules (replayer::icinga::objects) create its services (three, four with
#   `diff`).
#
# The checks stay in place all the time, also during the nightly data sync: the plugins read
# the sync flag on the host and report OK ("data sync in progress ...") while it is set and
# WARNING when it is stale. No more removing the checks from Puppet while the sync runs.
#
# Declare it on the Icinga 2 server, or export it from each replayer host and collect it
# there (needs PuppetDB):
#
# @example On each cache host
#   @@replayer::icinga { $facts['networking']['fqdn']:
#     address         => $facts['networking']['ip'],
#     agent_endpoint  => $facts['networking']['fqdn'],
#     procs_command   => 'goreplay',
#   }
# @example On the Icinga 2 server
#   Replayer::Icinga <<| |>>
#
# @param address
#   The host's address.
# @param host_check_command
#   The host check (ITL).
# @param agent_endpoint
#   The Icinga 2 agent's Endpoint name, to run the checks on the host (command_endpoint).
#   Unset: the checks run where the Host's zone runs them (NRPE sites use icinga/nrpe/).
# @param zone
#   The Host's zone (a distributed setup with command_endpoint needs one).
# @param procs_command
#   The daemon's process name: replayer, or goreplay with the goreplay compatibility.
# @param socket
#   The status socket on the host.
# @param sync_flag
#   The data-sync flag file on the host.
# @param sync_max_age
#   When the flag becomes stale.
# @param sync_window
#   A daily UTC window (HH:MM-HH:MM) that counts as a sync in progress by itself, for sites
#   that gate by time rather than by the flag.
# @param sync_downtime
#   Also put the services in a ScheduledDowntime 22:00-08:00 (downtimes.conf).
# @param diff
#   The daemon compares staging's answers with production's (class replayer's `diff`): adds
#   the replayer-diff service.
# @param vars
#   Any other host vars, e.g. { 'replayer_5xx_per_second' => true, 'replayer_5xx_warning' => '0.3' }.
define replayer::icinga (
  String[1] $address,
  String[1] $host_check_command = 'hostalive',
  Optional[String[1]] $agent_endpoint = undef,
  Optional[String[1]] $zone = undef,
  String[1] $procs_command = 'replayer',
  Pattern[/\A\//] $socket = '/run/replayer/status.sock',
  Pattern[/\A\//] $sync_flag = '/etc/govuk/env.d/FACTER_data_sync_in_progress',
  String[1] $sync_max_age = '12h',
  Optional[Pattern[/\A\d{1,2}:\d{1,2}-\d{1,2}:\d{1,2}\z/]] $sync_window = undef,
  Boolean $sync_downtime = false,
  Boolean $diff = false,
  Hash[Pattern[/\A[a-z0-9_]+\z/], Variant[String, Integer, Float, Boolean]] $vars = {},
) {
  include replayer::icinga::objects
  file { "${replayer::icinga::objects::hosts}/${title}.conf":
    ensure  => file,
    mode    => '0644',
    content => epp('replayer/icinga-host.conf.epp', {
      'name'               => $title,
      'address'            => $address,
      'host_check_command' => $host_check_command,
      'agent_endpoint'     => $agent_endpoint,
      'zone'               => $zone,
      'vars'               => {
        'replayer'                => true,
        'replayer_procs_command'  => $procs_command,
        'replayer_socket'         => $socket,
        'replayer_sync_flag'      => $sync_flag,
        'replayer_sync_max_age'   => $sync_max_age,
        'replayer_sync_window'    => $sync_window,
        'replayer_sync_downtime'  => $sync_downtime,
        'replayer_diff'           => $diff,
      }.filter |$k, $v| { $v != undef } + $vars,
    }),
    notify  => $replayer::icinga::objects::notify,
  }
}
