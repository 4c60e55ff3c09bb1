"""What a training run records about itself (RUN/energy.json, RUN/privacy.json), as tests write them."""

ENERGY = {"energy_kwh": 0.002, "co2_kg": 0.0008, "duration_s": 40.0, "training_flops": 1.5e12,
          "cpu_power_method": "TDP estimate", "country_iso_code": "FRA", "carbon_intensity_g_per_kwh": 56.0,
          "tracker": "codecarbon 3.3.2 offline"}
PRIVACY = {"mechanism": "DP-SGD (per-example clipping + Gaussian noise)", "epsilon": 7.25, "delta": 1e-5,
           "noise_multiplier": 1.1, "l2_norm_clip": 1.0, "sampling_rate": 0.008, "steps": 150,
           "accountant": "rdp", "privacy unit": "one example"}
