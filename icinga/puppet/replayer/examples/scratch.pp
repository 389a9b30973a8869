# GOV.UK's setup, as documented in class replayer, plus two hosts' Icinga 2 checks and the
# NRPE commands, all rendered under a scratch directory (no service, no user, nothing else
# on the system touched):
#   puppet apply --modulepath=icinga/puppet icinga/puppet/replayer/examples/scratch.pp
# writes under /tmp/replayer-example, or under $FACTER_replayer_root when set (the tests).
$root = $facts['replayer_root'] ? {
  undef   => '/tmp/replayer-example',
  default => $facts['replayer_root'],
}

class { 'replayer':
  root            => $root,
  input           => '127.0.0.1:7999',
  targets         => ['https://www-origin.staging.example'],
  allow_methods   => ['GET', 'HEAD', 'OPTIONS'],
  disallow_urls   => ['apply-for-a-licence/payment', 'sign-in/callback'],
  set_headers     => ['X-Forwarded-Host:'],
  goreplay_compat => true,
  diff            => true,   # compare staging's answers with production's
}

class { 'replayer::icinga::objects':
  root => $root,
}

class { 'replayer::nrpe':
  root => $root,
}

# GoReplay's name kept, GOV.UK's site-wide 5xx check (0.3 / 0.9 5xx per second), and the
# comparison's check, since this host's daemon compares.
replayer::icinga { 'cache-1.example':
  address       => '192.0.2.10',
  procs_command => 'goreplay',
  sync_downtime => true,
  diff          => true,
  vars          => {
    'replayer_5xx_per_second' => true,
    'replayer_5xx_warning'    => '0.3',
    'replayer_5xx_critical'   => '0.9',
  },
}

# A site that gates by time instead of a flag.
replayer::icinga { 'cache-2.example':
  address     => '192.0.2.11',
  sync_window => '22:00-08:00',
}
