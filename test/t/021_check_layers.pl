# scripts/check_layers.sh (run by test/run after each build) fails on each way a file can break
# the layer order of src/LAYERS, not only on the plain spelling of an include:
#  - an include that walks up ("../trigger/trigger.h", "base/../trigger/trigger.h"), which the
#    compiler follows as it would "trigger/trigger.h";
#  - an object directory without objects (a wrong OBJDIR checked nothing and passed);
#  - a call into a higher layer through a function declared in a lower layer's own header, seen
#    in the built objects only.
# The tree checked is a copy of this build's src/ with one change at a time.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = abs_path(dirname(__FILE__) . '/../..');
my $check = "$top/scripts/check_layers.sh";

# check_layers.sh on a copy of src/ after edit->(dir); returns (exit code, output)
sub check
{
	my ($edit, $objdir) = @_;
	my $dir = tempdir(CLEANUP => 1);
	system('cp', '-a', "$top/src", "$dir/src") == 0 or die "cp: $?";
	$edit->($dir) if $edit;
	my ($stdout, $stderr);
	my $rc = IPC::Run::run([ 'bash', $check, $dir, ($objdir ? ($objdir) : ()) ],
		'>', \$stdout, '2>', \$stderr);
	return ($rc ? 0 : 1, $stdout . $stderr);
}

# add a line after the first include of base/base.h in src/base/clock.c
sub add_to_clock
{
	my ($line) = @_;
	return sub {
		my $f = "$_[0]/src/base/clock.c";
		my $text = slurp_file($f);
		$text =~ s{(#include "base/base.h"\n)}{$1$line\n} or die "no include in $f";
		open my $fh, '>', $f or die $!;
		print $fh $text;
		close $fh;
	};
}

my ($failed, $out) = check(undef, $top);
ok(!$failed, 'this build keeps to its layers') or diag $out;

for my $inc ('trigger/trigger.h', '../trigger/trigger.h', 'base/../trigger/trigger.h')
{
	($failed, $out) = check(add_to_clock(qq{#include "$inc"}));
	ok($failed, qq{base including "$inc" fails});
	like($out, qr/clock\.c:\d+ includes "\Q$inc\E": layer base .* may not use layer trigger/,
		'and names the include and the layers');
}

($failed, $out) = check(undef, tempdir(CLEANUP => 1));
ok($failed, 'an object directory without objects fails');
like($out, qr/no object files under/, 'and says so');

# objects: copy this build's objects, then give base's clock.o an undefined reference to a
# function of the trigger layer, as a lower header's static inline calling up would
my $objs = tempdir(CLEANUP => 1);
system('cp', '-a', "$top/src", "$objs/src") == 0 or die "cp: $?";
my ($sym) = grep { /\S/ } map { (split)[2] // '' } split /\n/,
	`nm --defined-only -g $objs/src/trigger/ownership.o`;
ok($sym, "a symbol of trigger/ownership.o ($sym)");
my $c = "$objs/call_up.c";
open my $fh, '>', $c or die $!;
print $fh "extern void $sym(void);\nvoid clock_calls_up(void) { $sym(); }\n";
close $fh;
system('cc', '-c', '-o', "$objs/call_up.o", $c) == 0 or die "cc: $?";
system('ld', '-r', '-o', "$objs/src/base/clock.o.new", "$objs/src/base/clock.o", "$objs/call_up.o") == 0
	or die "ld: $?";
rename "$objs/src/base/clock.o.new", "$objs/src/base/clock.o" or die $!;
($failed, $out) = check(undef, $objs);
ok($failed, 'a base object calling into the trigger layer fails');
like($out, qr{src/base/clock\.c uses \Q$sym\E of src/trigger/ownership\.c}, 'and names the call');

done_testing();
