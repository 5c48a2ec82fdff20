#!/usr/bin/env bash
# Self-test of the cluster path on a real one-node Slurm: the sbatch scripts as shipped, 2 tasks.
# Not part of CI (it needs root and Debian's slurmd, slurmctld, slurm-client and munge, which it installs and
# starts when no Slurm answers). Run from a checkout, as root:
#   STOCHPLAN_VENV=/path/to/venv bash slurm/selftest.sh        # a venv with `pip install -e ".[mpi]"`
# Prints one line per check and exits 0 only if all hold.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export STOCHPLAN_VENV=${STOCHPLAN_VENV:-$ROOT/.venv}
WORK=$(mktemp -d /tmp/stochplan-selftest.XXXX)
failures=0
check() {   # check NAME COMMAND...
    local name=$1; shift
    if "$@" >/dev/null 2>&1; then echo "PASS  $name"; else echo "FAIL  $name"; failures=$((failures + 1)); fi
}

start_slurm() {
    command -v slurmd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmd slurmctld \
        slurm-client munge >/dev/null
    mkdir -p /run/munge /var/log/munge /var/lib/munge /var/spool/slurmd /var/spool/slurmctld /var/log/slurm
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    [[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
    cat > /etc/slurm/slurm.conf <<EOF
ClusterName=selftest
SlurmctldHost=$(hostname -s)
MpiDefault=none
ProctrackType=proctrack/linuxproc
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=root
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$(hostname -s) CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    pgrep -x slurmctld >/dev/null || slurmctld
    pgrep -x slurmd >/dev/null || slurmd
    for _ in $(seq 30); do sinfo -h -o %t 2>/dev/null | grep -q idle && return 0; sleep 1; done
    return 1
}

sinfo -h -o %t 2>/dev/null | grep -q idle || start_slurm || { echo "FAIL  a one-node Slurm is up"; exit 1; }
echo "PASS  a one-node Slurm is up ($(sinfo -h -o '%P %D node(s) %c CPUs'))"

# A case long enough to be stopped in the loop: the default case on 60 representative days (Slurm may send
# the time-limit signal up to 60 s early, so the loop must outlast that margin).
sed -e 's/^name = "ieee33"/name = "selftest"/' -e 's/^k = 10.*/k = 60/' scenarios/ieee33.toml > "$WORK/selftest.toml"

submit() {   # submit OUT LOG [sbatch options...]: wait for the job, → its exit code
    local out=$1 log=$2; shift 2
    STOCHPLAN_OUT=$out sbatch --wait --ntasks-per-node=2 --output="$log" "$@" slurm/single_node.sbatch \
        "$WORK/selftest.toml" ${RESUME:-} >/dev/null 2>&1
}

# 1. An uninterrupted run: two ranks joined, every iteration logged once, results written once.
submit "$WORK/full" "$WORK/full.log"
check "the job ends 0" grep -q "Benders converged" "$WORK/full.log"
check "2 ranks joined (60 days on 2 rank(s))" grep -q "60 days on 2 rank(s)" "$WORK/full.log"
check "each iteration is logged once" bash -c "! grep -o 'iter *[0-9]* milp' '$WORK/full.log' | sort | uniq -d | grep -q ."
check "results written once" bash -c "[[ \$(grep -c 'wrote $WORK/full' '$WORK/full.log') == 1 && -s '$WORK/full/results.json' ]]"

# 2. Tasks without a PMI that the MPI understands: every task stops, one line says why.
STOCHPLAN_SRUN_MPI=none submit "$WORK/nopmi" "$WORK/nopmi.log"
check "without a PMI: one line naming the fix" bash -c "[[ \$(grep -c 'MPI joined 1 of them' '$WORK/nopmi.log') == 1 ]] && grep -q -- '--mpi=pmi2' '$WORK/nopmi.log'"
check "without a PMI: no solve, no output" bash -c "! grep -q 'iter ' '$WORK/nopmi.log' && [[ ! -e '$WORK/nopmi/results.json' ]]"

# 3. A short time limit: Slurm's SIGTERM (--signal=TERM@150 of a 4-minute job) stops the run with a checkpoint
#    and one line; resubmitted with RESUME_DIR it finishes with the uninterrupted run's plan.
submit "$WORK/cut" "$WORK/cut.log" --time=00:04:00 --signal=TERM@150
check "the time limit's SIGTERM: one line, a checkpoint" bash -c "grep -q 'stopped by SIGTERM; checkpoint (iteration' '$WORK/cut.log' && [[ -s '$WORK/cut/checkpoint.json' && ! -e '$WORK/cut/results.json' ]]"
RESUME="$WORK/cut" submit "$WORK/cut" "$WORK/resumed.log"
check "the resubmission finishes" grep -q "Benders converged" "$WORK/resumed.log"
check "same plan and objective as the uninterrupted run" "$STOCHPLAN_VENV/bin/python" -c "
import json, sys
a, b = (json.load(open(f'$WORK/{d}/results.json')) for d in ('full', 'cut'))
same = a['objective'] == b['objective'] and a['storage'] == b['storage'] and a['chargers'] == b['chargers'] \
    and a['benders'] == b['benders']
print(a['objective']['total'], b['objective']['total'])
sys.exit(0 if same else 1)"
echo "totals: $(grep -h '^.*total .* EUR/year' "$WORK/full.log" "$WORK/resumed.log" | sed 's/.*total \([0-9.]*\).*/\1/' | tr '\n' ' ')"

# 4. The multi-node script: accepted by Slurm as written (4 nodes × 16 tasks cannot run here).
check "multi_node.sbatch passes sbatch --test-only" bash -c "sbatch --test-only --nodes=1 --ntasks-per-node=2 slurm/multi_node.sbatch '$WORK/selftest.toml' 2>&1 | grep -q 'to start'"

echo "logs in $WORK; $failures check(s) failed"
exit $(( failures > 0 ))
