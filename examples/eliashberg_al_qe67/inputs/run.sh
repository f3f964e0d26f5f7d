set -e
export OMP_NUM_THREADS=1
pw.x -in al.fit.in > al.fit.out
pw.x -in al.scf.in > al.scf.out
ph.x -in al.elph.in > al.elph.out
q2r.x -in q2r.in > q2r.out
matdyn.x -in matdyn.in > matdyn.out
echo done > DONE
