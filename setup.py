from setuptools import find_packages, setup

setup(
    name="onpolicy_flows",
    version="0.1.0",
    description="TRPO, ACKTR and PPO with Gaussian, GMM and normalizing-flow policies "
                "(TensorFlow 2 port of Tang & Agrawal)",
    packages=find_packages(include=["onpolicy_flows", "onpolicy_flows.*", "run"]),
    package_data={"onpolicy_flows.experiments": ["reference_results.json"],
                  "onpolicy_flows.experiments.grids": ["*.json"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",
        "tensorflow-probability>=0.24",
        "tf-keras>=2.16",  # TFP imports it
        "tensorboard",  # tf.summary needs it; TF no longer installs it
        "gymnasium[mujoco]>=1.0",
        "mujoco>=3.0",
        "numpy",
        "mpi4py>=4.0",
        "mpich",  # the MPI runtime (and mpirun) for mpi4py, from PyPI
        # No module imports cloudpickle: what crosses processes here is numbers (npz, JSON,
        # MPI buffers), so nothing needs to pickle code. It stays only because the project's
        # declared dependency set names it; drop it once that set no longer does.
        "cloudpickle",
        "matplotlib",
        "imageio",
        "imageio-ffmpeg",
        "tqdm",
        "rliable",
        "pandas<3",  # rliable needs arch<8, whose import fails with pandas 3
    ],
    extras_require={
        "test": ["pytest"],
        "bullet": ["pybullet-envs-gymnasium"],  # Roboschool's humanoids, ported to pybullet
    },
)
