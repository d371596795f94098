"""Earned diagnoses, checked: each known-wrong submission's first message (the failure `torchprep check` shows
first) names its own mistake. For every mutant in tests/mutants/, the key words its first message must
contain (lower case, matched case-insensitively in the test's name and message): the function or task, and
the property that differs. A mutant without an entry, or an entry without its mutant, fails the suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quiz import catalog
from tests.catalog_grading import first_failure, graded

MUTANTS = Path(__file__).resolve().parent / "mutants"
EXERCISES = catalog.scan()[0]

KEY_WORDS: dict[str, tuple[str, ...]] = {
    "attention/blocked_rows_zeroed_after_nan": ("gradient", "blocked", "never nan"),
    "attention/bool_mask_inverted": ("bool attn_mask", "true mask entry means 'may attend'"),
    "attention/calls_torch_sdpa": ("scaled_dot_product_attention", "written by hand"),
    "attention/causal_bottom_right_aligned": ("is_causal", "top-left"),
    "attention/causal_excludes_diagonal": ("is_causal", "own position"),
    "attention/float_mask_added_before_scaling": ("float attn_mask", "after dividing by sqrt(e)"),
    "attention/forgets_out_proj": ("out_proj", "last step"),
    "attention/heads_without_transpose": ("q_proj is zeroed", "splitting into heads"),
    "attention/key_padding_mask_inverted": ("key_padding_mask", "true marks a padding key"),
    "attention/key_padding_mask_wrong_broadcast": ("key_padding_mask", "(b, 1, 1, s)"),
    "attention/merges_heads_without_transpose": ("q_proj is zeroed", "merging them back"),
    "attention/mha_ignores_causal": ("both key_padding_mask and is_causal",),
    "attention/mha_scales_by_embed_dim": ("head scaling", "sqrt(head_dim)"),
    "attention/nan_for_blocked_rows": ("blocks every key", "not nan"),
    "attention/no_scaling": ("scaled_dot_product_attention", "divided by sqrt(e)"),
    "attention/scales_by_e_not_sqrt_e": ("scaled_dot_product_attention", "divided by sqrt(e)"),
    "attention/scales_by_value_dim": ("divided by sqrt(e)", "q.size(-1)"),
    "attention/softmax_over_queries": ("softmax over the keys", "sum to 1"),
    "attention/value_through_key_proj": ("v_proj", "zeros"),
    "autograd/fit_linear_bias_of_shape_1": ("fit_linear", "0-dim b"),
    "autograd/fit_linear_forgets_zero_grad": ("fit_linear", "zeroed"),
    "autograd/fit_linear_update_outside_no_grad": ("w.grad", "nonetype"),
    "autograd/gradient_leaves_grad_on_input": ("x.grad after gradient", "must not leave a .grad"),
    "autograd/gradient_returns_graph_attached": ("requires_grad of the gradient returned", "detached"),
    "autograd/gradient_sets_requires_grad_on_input": (
        "x.requires_grad after gradient", "must not turn on requires_grad",
    ),
    "autograd/hvp_finite_differences": ("hvp", "finite differences"),
    "autograd/hvp_full_hessian": ("hvp", "backward passes", "full hessian"),
    "autograd/hvp_full_hessian_vectorized": ("hvp", "vmap", "full hessian"),
    "autograd/hvp_without_create_graph": ("torch.autograd.grad", "does not have a grad_fn"),
    "autograd/logcosh_backward_forgets_grad_output": ("logcosh", "grad_output * tanh"),
    "autograd/logcosh_naive_overflows": ("logcosh", "finite up to |x| = 1e4", "overflows"),
    "checkpoint/forgets_optimizer_state": ("optimizer's state", "restores the optimizer"),
    "checkpoint/ignores_map_location": ("map_location",),
    "checkpoint/leaves_temp_file_on_error": ("failed save", "no temporary file"),
    "checkpoint/loads_non_strict": ("3-layer model", "strict=true"),
    "checkpoint/loads_with_weights_only_false": ("weights_only=false",),
    "checkpoint/omits_rng_state": ("torch.rand(8) right after load_checkpoint", "rng state"),
    "checkpoint/omits_scheduler": ("scheduler's state_dict",),
    "checkpoint/reseeds_instead_of_restoring_rng": ("torch.rand(8) right after load_checkpoint", "rng state"),
    "checkpoint/saves_numpy_rng_state": ("weights_only=true", "plain python values"),
    "checkpoint/swallows_save_error": ("save_checkpoint", "exception reach the caller"),
    "checkpoint/temp_file_in_system_temp_dir": ("system temporary folder",),
    "checkpoint/writes_in_place": ("previous checkpoint's bytes", "failed save"),
    "cnn/conv_bias_before_batchnorm": ("unexpected key 'conv1.bias'", "bias=false"),
    "cnn/conv_without_padding": ("fc.weight", "padding=1"),
    "cnn/count_parameters_counts_buffers": ("count_parameters", "buffers"),
    "cnn/count_parameters_counts_frozen": ("count_parameters", "requires_grad=true"),
    "cnn/count_parameters_recounts_submodules": ("count_parameters", "nested", "counted once"),
    "cnn/dropout_active_in_eval": ("eval-mode", "deterministic"),
    "cnn/dropout_after_fc": ("train-mode logits", "right before self.fc"),
    "cnn/flatten_channels_last": ("input of fc", "(channel, row, column)"),
    "cnn/flatten_includes_batch_dim": ("shape of the logits", "batch dimension"),
    "cnn/pool_before_batchnorm": ("input of bn1", "right after its convolution"),
    "cnn/relu_before_batchnorm": ("input of bn1", "before relu"),
    "cnn/softmax_in_forward": ("logits", "no softmax"),
    "dataloader/loader_generator_only_in_sampler": ("global torch rng state", "base seed"),
    "dataloader/loader_unseeded_generator": ("number of different orders", "follows `seed`"),
    "dataloader/loader_uses_global_rng": ("global rng in another state", "depends on seed only"),
    "dataloader/pad_collate_pads_left": ("padded", "right padding"),
    "dataloader/pad_collate_time_major": ("padded", "(b, longest)"),
    "dataloader/sampler_ignores_generator": ("sampler.generator", "generator it was given"),
    "dataloader/sampler_weights_are_class_counts": ("sampler.weights", "1 / (number of samples"),
    "dataloader/sampler_without_replacement": ("sampler.replacement", "replacement=true"),
    "dataloader/window_index_ignores_stride": ("input of item 1", "i * stride"),
    "dataloader/window_length_ignores_horizon": ("len(dataset)", "whole target fits", "one more would end at"),
    "dataloader/window_length_off_by_one": ("len(dataset)", "// stride + 1", "the last item starts at"),
    "dataloader/window_no_index_error": ("dataset[7] with len 7", "indexerror"),
    "dataloader/window_no_negative_index": ("dataset[-1]", "negative index"),
    "dataloader/window_only_rejects_non_positive": ("window=2.0", "positive ints", "float"),
    "ddp/average_fails_on_frozen_parameters": (
        "test_average_gradients_skips_frozen_parameters", "the code must run in"),
    "ddp/average_reduces_the_weights": (
        "test_average_gradients_equal_the_full_batch", "after average_gradients every rank holds"),
    "ddp/average_sums_without_dividing": (
        "test_average_gradients_equal_the_full_batch", "all_reduce(grad, op=sum) adds the ranks'"),
    "ddp/ddp_never_wraps_the_model": ("test_train_ddp_state_dict_keys", "train_ddp wraps the model in"),
    "ddp/ddp_returns_the_wrapper_state_dict": (
        "test_train_ddp_state_dict_keys", "return model.state_dict() (or ddp.module.state_dict()): ddp.state_dict()"),
    "ddp/ddp_scales_the_loss_by_world_size": (
        "test_train_ddp_matches_full_batch", "each rank's weights equal single-process"),
    "ddp/loader_drop_last": ("test_loader_pads_uneven_datasets", "with drop_last=false each rank gets"),
    "ddp/loader_ignores_seed": ("test_loader_seed", "the sampler's seed is the"),
    "ddp/loader_sampler_without_rank": ("test_loader_shards_do_not_overlap", "valueerror"),
    "ddp/loader_shards_by_hand_without_padding": (
        "test_loader_pads_uneven_datasets", "with drop_last=false each rank gets"),
    "ddp/loader_shuffles_in_the_dataloader_too": ("test_loader_shards_do_not_overlap", "valueerror"),
    "ddp/loader_without_set_epoch": (
        "test_loader_new_order_each_epoch", "sampler.set_epoch(epoch) seeds the shuffle with"),
    "ddp/train_step_returns_a_tensor": ("test_train_step_returns_the_local_loss", "train_step returns the loss as"),
    "ddp/train_step_steps_before_averaging": (
        "test_train_step_matches_full_batch", "each rank's weights equal single-process"),
    "ddp/train_step_sums_the_loss": ("test_train_step_returns_the_local_loss", "this rank's f.mse_loss (the mean"),
    "ddp/train_step_without_zero_grad": ("test_train_step_matches_full_batch", "the first step matches but"),
    "device/batched_inference_blocking_copies": ("batch 0 was moved", "non_blocking=true"),
    "device/batched_inference_forgets_eval": ("training flags", "eval mode"),
    "device/batched_inference_forgets_model_to": ("device of the model's weights", "model.to(device)"),
    "device/batched_inference_forgets_no_grad": ("torch.is_grad_enabled()", "autograd off"),
    "device/batched_inference_outputs_on_device": ("outputs", "on the cpu", ".cpu()"),
    "device/optimizer_to_moves_step": ("state['step']", "stays on the cpu"),
    "device/optimizer_to_only_adam_moments": ("momentum_buffer", "every tensor of the optimizer's state moves"),
    "device/pick_device_ignores_mps": ("pick_device()", "mps"),
    "device/pick_device_lets_runtime_error_through": ("pick_device('gpu')", "runtimeerror", "valueerror"),
    "device/pick_device_only_checks_cuda_string": ("pick_device('cuda:0')", "whatever form the preference takes"),
    "device/pick_device_trusts_the_preference": ("pick_device('cuda')", "is_available() is false"),
    "device/to_device_ignores_non_blocking": ("to_device", "passes non_blocking on"),
    "device/to_device_loses_namedtuple": ("namedtuple", "['type']"),
    "device/to_device_mutates_input": ("caller's dict", "must not modify its input"),
    "device/to_device_plain_dict": ("ordereddict",),
    "export/export_leaves_model_in_eval": ("model.training after export_model", "leaves the model's mode"),
    "export/export_static_batch": ("dim 0", "dynamic"),
    "export/export_without_eval": ("export_model's program", "eval mode"),
    "export/load_returns_exported_program": ("what load_exported returned", ".module()"),
    "export/load_with_torch_load": ("load_exported(path)", "torch.load cannot read it"),
    "export/predict_leaves_eval_mode": ("model.training after predict", "leaves the model's mode"),
    "export/predict_restore_without_finally": ("predict's forward raised", "try/finally"),
    "export/predict_returns_logits": ("summed over the class axis", "softmax"),
    "export/predict_softmax_outside_inference_mode": (".is_inference()", "softmax is computed inside"),
    "export/predict_softmax_over_batch": ("summed over the class axis", "dim=-1"),
    "export/predict_with_no_grad": ("torch.is_inference_mode_enabled()", "torch.inference_mode()"),
    "export/predict_without_eval": ("training flags", "during predict", "eval mode"),
    "export/predict_without_grad_context": ("torch.is_inference_mode_enabled()", "torch.inference_mode()"),
    "gan_step/averages_discriminator_losses": ("discriminator_step", "their sum", "averaged"),
    "gan_step/forgets_train_mode": ("discriminator_step", "training mode", ".train()"),
    "gan_step/forgets_zero_grad_in_discriminator_step": ("discriminator's .grad", "old gradients", "zero_grad"),
    "gan_step/forgets_zero_grad_in_generator_step": ("generator's .grad", "old gradients", "zero_grad"),
    "gan_step/freezes_discriminator_forever": ("requires_grad", "discriminator", "restore"),
    "gan_step/generator_label_zero": ("generator_step", "the fakes labelled 0"),
    "gan_step/generator_step_detaches_fake": ("generator_step", "backward pass", "detach"),
    "gan_step/hardcoded_label_shape": ("target size", "must be the same as input size"),
    "gan_step/no_detach_in_discriminator_step": ("generator's .grad after discriminator_step", "detach"),
    "gan_step/returns_loss_tensor": ("discriminator_step returns", "float"),
    "gan_step/saturating_generator_loss": ("generator_step", "the saturating -bce(logits, 0)"),
    "gan_step/sigmoid_before_bce_in_generator_step": ("generator_step", "a sigmoid applied to the logits"),
    "gan_step/sigmoid_before_bce_with_logits": ("discriminator_step", "a sigmoid was applied to the logits"),
    "gan_step/swapped_discriminator_labels": ("discriminator_step", "labels are swapped"),
    "grad_accumulation/clip_coef_not_clamped": ("clip_grad_norm(max_norm=100)", "clamped to at most 1"),
    "grad_accumulation/clips_each_parameter_separately": (
        "gradients after clipping", "same clip_coef", "all gradients together",
    ),
    "grad_accumulation/forgets_zero_grad": ("accumulate_step", "3.0 before the call", "leaked"),
    "grad_accumulation/ignores_norm_type": ("returned total norm", "norm_type=1.0", "norm_type-norm"),
    "grad_accumulation/inf_norm_by_power_formula": ("norm_type=inf", "largest absolute value"),
    "grad_accumulation/iterates_parameters_twice": ("generator model.parameters()", "read only once"),
    "grad_accumulation/no_loss_scaling": ("accumulate_step", "last micro-batch's mean-loss gradient", "not scaled"),
    "grad_accumulation/returns_norm_after_clipping": ("returned total norm", "before clipping"),
    "grad_accumulation/returns_unweighted_mean_loss": ("loss accumulate_step returned", "size-weighted mean"),
    "grad_accumulation/scales_by_number_of_micro_batches": (
        "accumulate_step", "sizes [3, 5, 2]", "number of micro-batches",
    ),
    "grad_accumulation/steps_every_micro_batch": ("optimizer.step() calls in one accumulate_step", "exactly once"),
    "grad_accumulation/zero_grad_inside_loop": ("accumulate_step", "first micro-batch", "zero the gradients only once"),
    "grad_accumulation/zeroes_grad_after_step": (
        ".grad when accumulate_step returns", "do not zero the gradients after the step",
    ),
    "kv_cache/cache_appends_on_the_heads_axis": ("test_cache_appends_along_the_sequence_axis", "runtimeerror"),
    "kv_cache/causal_mask_top_left_with_cache": ("test_attention_one_token_at_a_time", "a single new token at"),
    "kv_cache/decode_feeds_the_whole_sequence": ("test_greedy_decode_uses_the_cache", "after the prefill, each call"),
    "kv_cache/decode_logits_one_step_late": (
        "test_greedy_decode_logits_equal_full_forward", "logits[:, i] are the last"),
    "kv_cache/decode_new_cache_every_step": ("test_greedy_decode_uses_the_cache", "one kvcache for the whole"),
    "kv_cache/decode_prefills_token_by_token": ("test_greedy_decode_uses_the_cache", "prefill: the first call feeds"),
    "kv_cache/no_mask_when_cached": ("test_attention_prompt_in_chunks", "with p cached positions and"),
    "kv_cache/one_cache_for_all_layers": ("test_cache_layers_are_independent", "each layer has its own"),
    "kv_cache/past_from_seq_len_in_every_layer": ("test_tinylm_prompt_in_chunks_with_cache", "each layer's p is the"),
    "kv_cache/past_read_after_update": ("test_attention_prompt_in_chunks", "with p cached positions and"),
    "kv_cache/seq_len_counts_calls": (
        "test_cache_first_update_returns_its_input", "seq_len counts positions (the sequence"),
    "kv_cache/update_returns_only_the_new_keys": (
        "test_cache_appends_along_the_sequence_axis", "update appends along the sequence"),
    "lora/adapters_in_float32": ("test_lora_parameters", "the adapters take base.weight's dtype"),
    "lora/apply_freezes_after_wrapping": ("test_apply_lora_trains_only_the_adapters", "only the adapters train: every"),
    "lora/apply_freezes_only_the_targets": (
        "test_apply_lora_trains_only_the_adapters", "only the adapters train: every"),
    "lora/apply_matches_substrings": ("test_apply_lora_matches_names_exactly", "a layer's name must equal"),
    "lora/b_not_zero": ("test_lora_initialisation", "b starts at zero, so"),
    "lora/base_not_frozen": ("test_lora_parameters", "the wrapped layer is frozen"),
    "lora/both_zero": ("test_lora_initialisation", "a starts random: with a"),
    "lora/merge_twice_adds_twice": ("test_lora_merge_twice", "merge() while already merged does"),
    "lora/merge_without_scaling": ("test_lora_merge", "merge adds the scaled update"),
    "lora/merged_forward_adds_the_update_again": ("test_lora_merge", "a merged layer computes the"),
    "lora/scales_by_alpha": ("test_lora_scaling_worked_example", "the update is scaled by"),
    "lora/scales_by_r_over_alpha": ("test_lora_scaling_worked_example", "the update is scaled by"),
    "lora/state_dict_keeps_everything_trainable_and_frozen": (
        "test_lora_state_dict_keys", "only the adapters, under their"),
    "lora/state_dict_short_names": ("test_lora_state_dict_keys", "only the adapters, under their"),
    "lora/unmerge_adds_instead_of_subtracting": ("test_lora_unmerge_round_trip", "unmerge subtracts the same update"),
    "lora/zero_a_random_b": ("test_lora_initialisation", "b starts at zero, so"),
    "losses/bce_sigmoid_then_log": ("bce_with_logits", "loss is finite"),
    "losses/focal_alpha_same_for_both_classes": ("focal_loss", "alpha_t", "0.75 for the negative"),
    "losses/focal_log_of_probability": ("focal_loss", "loss is finite", "log(p_t)"),
    "losses/focal_modulates_with_p": ("focal_loss", "equally easy", "p_t"),
    "losses/focal_pow_nan_gradient": ("focal_loss", "gradient is finite", "gamma"),
    "losses/log_of_softmax": ("cross_entropy", "loss is finite", "log_softmax"),
    "losses/logsumexp_without_max_shift": ("cross_entropy", "loss is finite", "logsumexp"),
    "losses/pos_weight_on_both_terms": ("bce_with_logits", "pos_weight", "only the positive term"),
    "losses/smoothing_ignores_class_weights": ("cross_entropy", "class weights and label_smoothing", "own w[c]"),
    "losses/smoothing_over_other_classes": ("cross_entropy", "label_smoothing", "the target included"),
    "losses/weighted_mean_over_batch_size": ("cross_entropy", "weight [3, 1]", "sum of the targets' weights"),
    "metrics/bincount_without_minlength": ("confusion_matrix", "num_classes", "expected shape (5, 5)"),
    "metrics/confusion_matrix_transposed": ("confusion_matrix", "rows are true classes", "swapped"),
    "metrics/f1_nan_when_precision_and_recall_are_zero": ("per-class f1", "nan", "precision + recall == 0"),
    "metrics/macro_f1_from_macro_precision_recall": ("macro f1", "mean of per-class f1"),
    "metrics/macro_over_present_classes": ("macro precision", "all 4 classes", "absent"),
    "metrics/micro_computed_as_macro": ("micro recall", "pool"),
    "metrics/topk_uses_argmax": ("top-2 accuracy", "2 highest scores"),
    "metrics/weighted_by_predicted_counts": ("weighted precision", "support"),
    "metrics/zero_division_ignored": ("per-class precision", "nan", "zero_division"),
    "mixed_precision/backward_on_unscaled_loss": ("_scale is none", "scaler.scale(loss"),
    "mixed_precision/clips_before_unscale": ("max_norm=0.05", "before clip_grad_norm_"),
    "mixed_precision/float16_on_cpu": ('autocast_dtype("cpu")', "bfloat16"),
    "mixed_precision/forgets_scaler_update": ("scaler.update() calls in one train_step", "once per train_step"),
    "mixed_precision/forgets_zero_grad": ("leftover 5.0s", "minus the gradient", "zero_grad"),
    "mixed_precision/loss_in_bfloat16": ("outputs loss_fn received", "float32"),
    "mixed_precision/no_autocast": ("first nn.linear's output", "autocast", "bfloat16"),
    "mixed_precision/optimizer_step_directly": ("calls of one train_step", "optimizer.step (called directly)"),
    "mixed_precision/skipped_checked_before_update": ("skipped returned", "lower after update()"),
    "mixed_precision/skipped_from_loss_value": ("skipped returned", "the loss itself was finite", "not at the loss"),
    "mixed_precision/unscales_twice_by_hand": ("max_norm=0.05", "exactly once"),
    "optim_schedule/buffer_aliases_grad": ("p.grad after two sgd_steps with momentum", "copy"),
    "optim_schedule/cosine_floored_instead_of_scaled": ("min_lr_ratio=0.1", "in the cosine", "m + (1 - m)"),
    "optim_schedule/cosine_not_reaching_min": ("in the cosine", "progress = (step - 5) / (20 - 5)"),
    "optim_schedule/dampening_on_first_step": ("dampening=0.3", "after step 1", "with no dampening"),
    "optim_schedule/delegates_to_functional_sgd": ("sgd_step must write the update itself", "torch.optim's sgd"),
    "optim_schedule/nesterov_uses_old_buffer": ("nesterov=true", "updated in this step"),
    "optim_schedule/scheduler_before_optimizer": ("lr optimizer step 0 trained with", "only then scheduler.step()"),
    "optim_schedule/scheduler_stepped_once_per_epoch": ("scheduler.last_epoch", "once per batch"),
    "optim_schedule/warmup_off_by_one": ("optimizer step 0", "in the warm-up", "(step + 1) / warmup_steps"),
    "optim_schedule/weight_decay_after_momentum": ("weight_decay=0.05", "after step 2", "before the buffer"),
    "optim_schedule/weight_decay_modifies_grad_in_place": (
        "p.grad after one sgd_step with weight_decay", "out of place",
    ),
    "positional/rope_half_split_with_interleaved_angles": (
        "test_rope_half_split_pairs", "with interleaved=false feature i pairs"),
    "positional/rope_ignores_interleaved": ("test_rope_interleaved_pairs", "with interleaved=true feature 2i pairs"),
    "positional/rope_ignores_positions": ("test_rope_positions_argument", "positions gives each row's position"),
    "positional/rope_positions_along_dim_1": ("test_rope_positions_along_dim_minus_2", "runtimeerror"),
    "positional/rope_returns_float64": ("test_rope_keeps_float32", "float32 in, float32 out: cast"),
    "positional/rope_rotates_clockwise": ("test_rope_rotation_direction", "position 0 is not rotated"),
    "positional/sin_cos_concatenated": (
        "test_sinusoidal_feature_1_is_cos_of_the_same_angle", "feature 1 is cos(p), the"),
    "positional/sinusoidal_exponent_i_over_dim": ("test_sinusoidal_frequencies_worked_example", "pair i turns at 1"),
    "positional/sinusoidal_ignores_base": ("test_sinusoidal_base", "the angle is p /"),
    "positional/sinusoidal_sin_cos_swapped": (
        "test_sinusoidal_feature_0_is_sin_of_position", "feature 0 (even) is sin(p)"),
    "sampling/beam_index_by_modulo": (
        "test_beam_search_scores_are_the_sequences_log_probabilities", "when beams are reordered, each"),
    "sampling/beam_ranks_by_the_last_token_only": (
        "test_beam_search_wide_beam_is_exhaustive", "candidates are ranked by their"),
    "sampling/beam_starts_with_copies_of_bos": (
        "test_beam_search_first_step_from_one_beam", "the search starts from the"),
    "sampling/beam_ties_to_the_higher_index": ("test_beam_search_ties", "equal scores go to the"),
    "sampling/sample_divides_by_zero_temperature": ("test_sample_temperature_zero_is_greedy", "runtimeerror"),
    "sampling/sample_filters_before_temperature": (
        "test_sample_temperature_before_top_p", "first divide by the temperature"),
    "sampling/sample_multiplies_by_temperature": ("test_sample_frequencies", "tokens are drawn with probabilities"),
    "sampling/sample_top_p_before_top_k": ("test_sample_top_k_then_top_p", "top_k first, then top_p on"),
    "sampling/sample_uses_the_global_rng": ("test_sample_uses_the_generator", "all the randomness comes from"),
    "sampling/top_k_drops_ties": ("test_top_k_keeps_ties_at_the_boundary", "every logit equal to the"),
    "sampling/top_k_keeps_k_plus_one": ("test_top_k_worked_example", "the 2 largest logits (3"),
    "sampling/top_p_forgets_to_unsort": ("test_top_p_unsorted_vocabulary", "the decision is made in"),
    "sampling/top_p_one_by_cumulative_sum": ("test_top_p_one_keeps_everything", "p = 1 keeps every"),
    "sampling/top_p_removes_the_crossing_token": (
        "test_top_p_keeps_the_token_that_crosses_p", "keep tokens until the kept"),
    "sampling/top_p_splits_ties": ("test_top_p_ties_stay_together", "tied tokens are kept or"),
    "sequence_model/bidirectional_output_at_last_index": ("last 6 features fc receives", "backward-direction state"),
    "sequence_model/directions_swapped": ("first 6 features fc receives", "bidirectional", "forward-direction state"),
    "sequence_model/enforce_sorted_default": ("enforce_sorted", "must be sorted"),
    "sequence_model/fc_ignores_bidirectional": ("fc.weight", "bidirectional", "hidden_size * d"),
    "sequence_model/forgets_padding_idx": ("model.embedding.padding_idx", "padding_idx=3"),
    "sequence_model/h_n_of_first_layer": ("2-layer", "features fc receives", "top layer"),
    "sequence_model/last_padded_timestep": ("padded to 10 instead of 6", "padding must not change"),
    "sequence_model/sorts_but_never_unsorts": ("batch shuffled", "batch's own order"),
    "stable_softmax/log_softmax_as_log_of_softmax": ("log_softmax", "underflows to 0 but its log is still -1e4"),
    "stable_softmax/log_softmax_calls_f_log_softmax": (
        "log_softmax", "torch.nn.functional.log_softmax was called", "by hand",
    ),
    "stable_softmax/log_softmax_forgets_the_max": ("log_softmax", "x - logsumexp(x)"),
    "stable_softmax/logsumexp_calls_torch_logsumexp": ("logsumexp", "torch.logsumexp was called", "by hand"),
    "stable_softmax/logsumexp_ignores_keepdim": ("logsumexp", "keepdim=true", "expected shape (2, 3, 1)"),
    "stable_softmax/logsumexp_nan_for_all_neg_inf_slice": ("logsumexp", "all -inf", "shift an all -inf slice by 0"),
    "stable_softmax/logsumexp_one_max_for_the_whole_tensor": (
        "logsumexp", "its own max", "one max for the whole tensor",
    ),
    "stable_softmax/logsumexp_without_max_shift": ("logsumexp", "overflows", "subtract the max"),
    "stable_softmax/softmax_calls_tensor_softmax": ("softmax", "tensor.softmax was called", "by hand"),
    "stable_softmax/softmax_detaches_the_sum": ("softmax", "x.grad", "differentiable"),
    "stable_softmax/softmax_ignores_dim": ("softmax", "dim=0"),
    "stable_softmax/softmax_max_without_keepdim": ("softmax", "amax(dim=dim)", "must match the size"),
    "stable_softmax/softmax_one_max_for_the_whole_tensor": ("softmax", "its own max", "one max for the whole tensor"),
    "stable_softmax/softmax_subtracts_in_place": ("softmax", "x after", "must not modify"),
    "stable_softmax/softmax_without_max_shift": ("softmax", "overflows", "subtract the max"),
    "stable_softmax/softmax_zeros_for_all_neg_inf_slice": ("softmax", "all -inf", "nan"),
    "tensor_ops/bilinear_ignores_per_sample_A": ("batched_bilinear", "per sample"),
    "tensor_ops/bilinear_sums_over_batch": ("batched_bilinear", "only sample b"),
    "tensor_ops/bilinear_transposes_A": ("batched_bilinear", "row index", "transposed"),
    "tensor_ops/distances_wrong_broadcast": ("must match", "(a * a).sum(1)"),
    "tensor_ops/gathers_on_wrong_dim": ("gather_rows", "column"),
    "tensor_ops/mask_below_or_equal": ("mask_below", "equal to 0"),
    "tensor_ops/masked_fill_in_place": ("mask_below", "x after", "unchanged"),
    "tensor_ops/one_hot_eye_indexing_no_check": ("one_hot", "-1", "wraps"),
    "tensor_ops/one_hot_float_dtype": ("one_hot", "dtype torch.int64"),
    "tensor_ops/one_hot_infers_num_classes": ("one_hot", "num_classes = 5 columns"),
    "tensor_ops/returns_squared_distances": ("pairwise_distances", "not squared"),
    "tensor_ops/scatter_overwrites_instead_of_adding": ("segment_sum", "add up"),
    "tensor_ops/segment_sum_with_bincount": ("segment_sum", "outside [0, num_groups)"),
    "tensor_ops/sqrt_without_clamp": ("pairwise_distances", "nan"),
    "training_loop/accuracy_averaged_over_batches": ("evaluate", "accuracy", "fraction of the 11 samples"),
    "training_loop/averages_over_batches": ("train_one_epoch", "weighted by its number of samples"),
    "training_loop/forgets_model_eval": ("evaluate", "model.eval()"),
    "training_loop/forgets_model_train": ("train_one_epoch", "model.train()"),
    "training_loop/forgets_no_grad_in_evaluate": ("evaluate", "no_grad"),
    "training_loop/forgets_to_move_targets": ("train_one_epoch", "targets", ".to(device)"),
    "training_loop/forgets_zero_grad": ("train_one_epoch", "latest backward()", "zero_grad"),
    "training_loop/running_loss_keeps_tensor": ("train_one_epoch", "python float"),
    "training_loop/zero_grad_after_backward": ("train_one_epoch", "hold a .grad", "zero_grad"),
    "transformer_block/attention_not_causal": (
        "test_attention_future_never_changes_the_past", "causal: query t attends only"),
    "transformer_block/attention_reads_x": ("test_block_attention_reads_ln_1", "the attention sub-layer reads ln_1(x)"),
    "transformer_block/causal_mask_hides_the_diagonal": (
        "test_attention_single_token_attends_to_itself", "a token may attend to"),
    "transformer_block/dropout_ignores_eval_mode": (
        "test_block_eval_mode_turns_dropout_off", "in eval mode dropout does"),
    "transformer_block/dropout_on_the_residual_stream": (
        "test_block_dropout_one_leaves_only_the_residual", "dropout applies to each sub-layer's"),
    "transformer_block/heads_without_transpose": ("test_attention_uniform_weights_average_v", "with every score 0 and"),
    "transformer_block/in_place_residual": ("test_block_does_not_modify_x", "the block returns a new"),
    "transformer_block/mlp_reads_x_not_h": (
        "test_block_mlp_reads_ln_2_of_the_residual_stream", "the mlp reads ln_2(h), with"),
    "transformer_block/mlp_without_residual": (
        "test_block_is_identity_when_sublayers_are_off", "the residual stream carries x"),
    "transformer_block/persistent_mask_buffer": (
        "test_attention_layers_and_state_dict", "exactly qkv = nn.linear(d_model, 3"),
    "transformer_block/post_ln": ("test_block_is_identity_when_sublayers_are_off", "the residual stream carries x"),
    "transformer_block/relu_activation": ("test_block_mlp_activation", "the mlp's activation is the"),
    "transformer_block/scales_by_d_model": ("test_attention_head_scale", "each head divides its scores"),
    "transformer_block/tanh_gelu": ("test_block_mlp_activation", "the mlp's activation is the"),
}


def test_every_mutant_has_its_key_words_and_every_entry_its_mutant():
    mutants = {f"{path.parent.name}/{path.stem}" for path in MUTANTS.glob("*/*.py")}
    assert sorted(mutants - set(KEY_WORDS)) == [], "mutants without key words for their first message"
    assert sorted(set(KEY_WORDS) - mutants) == [], "key words for mutants that do not exist"
    assert all(words and all(word == word.lower().strip() and word for word in words)
               for words in KEY_WORDS.values()), "key words are non-empty, lower case"


@pytest.mark.slow
@pytest.mark.parametrize("exercise", [pytest.param(e, marks=pytest.mark.xdist_group(e.id)) for e in EXERCISES],
                         ids=lambda e: e.id)
def test_each_mutants_first_message_names_its_mistake(exercise):
    problems = []
    for path, _expected, result in graded(exercise.id):
        if path.parent.parent != MUTANTS:
            continue
        words = KEY_WORDS.get(f"{exercise.id}/{path.stem}", ())
        first = first_failure(result)
        shown = (f"{result.message}\n" if result.status == "error" else "") + (
            f"{first.name}\n{first.message}" if first else "")
        missing = [word for word in words if word not in shown.lower()]
        if missing:
            problems.append(f"  {path.name}: first message lacks {missing}:\n    " + shown.replace("\n", "\n    "))
    assert not problems, "\n".join(problems)
