"""Every torch-backed inference piece lives here (VAD, resampling, embeddings, trait heads).

Services import these modules lazily so the headless core never loads torch.
"""
